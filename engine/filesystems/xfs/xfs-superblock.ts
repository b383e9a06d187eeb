import { ByteView } from '../../disks/byte-view'
import { FilesystemError, corrupt } from '../errors'

/** XFS superblock (v4 and v5), per the "XFS Algorithms & Data Structures" document. */
const INCOMPAT_FTYPE = 0x1
const INCOMPAT_SPINODES = 0x2
const INCOMPAT_META_UUID = 0x4
const INCOMPAT_BIGTIME = 0x8
const INCOMPAT_NEEDSREPAIR = 0x10
const INCOMPAT_NREXT64 = 0x20
const INCOMPAT_KNOWN = INCOMPAT_FTYPE | INCOMPAT_SPINODES | INCOMPAT_META_UUID | INCOMPAT_BIGTIME | INCOMPAT_NEEDSREPAIR | INCOMPAT_NREXT64
const VERSION_DIRV2 = 0x2000
const FEATURES2_FTYPE = 0x200

export interface XfsSuperblock {
  readonly blockSize: number
  readonly dblocks: number
  readonly agBlocks: number
  readonly agCount: number
  readonly rootIno: bigint
  readonly inodeSize: number
  readonly blockLog: number
  readonly agBlockLog: number
  readonly inopbLog: number
  readonly dirBlockSize: number
  readonly v5: boolean
  readonly ftype: boolean
  readonly nrext64: boolean
  readonly label: string
  readonly uuid: string
  readonly warnings: string[]
}

export function parseXfsSuperblock(buf: Buffer, label: string): XfsSuperblock {
  const v = new ByteView(buf, corrupt(label), 'XFS superblock')
  if (v.ascii(0, 4) !== 'XFSB') throw new FilesystemError('unknown-filesystem', `${label}: no XFS superblock`)
  const blockSize = v.u32be(4)
  const blockLog = v.u8(120)
  const inodeSize = v.u16be(104)
  const inodeLog = v.u8(122)
  const inopbLog = v.u8(123)
  const agBlockLog = v.u8(124)
  const agBlocks = v.u32be(84)
  const agCount = v.u32be(88)
  const version = v.u16be(100)
  const v5 = (version & 0xf) === 5
  if ((version & 0xf) !== 4 && !v5) throw new FilesystemError('unsupported', `${label}: XFS version ${version & 0xf} is not supported (4 and 5 are)`)
  if (blockLog < 9 || blockLog > 16 || blockSize !== 2 ** blockLog) throw new FilesystemError('corrupt', `${label}: XFS block size ${blockSize} is invalid`)
  if (inodeLog < 8 || inodeLog > 11 || inodeSize !== 2 ** inodeLog || inopbLog !== blockLog - inodeLog) throw new FilesystemError('corrupt', `${label}: XFS inode size ${inodeSize} is invalid`)
  if (agBlocks === 0 || agCount === 0 || agBlockLog > 31 || 2 ** agBlockLog < agBlocks) throw new FilesystemError('corrupt', `${label}: XFS allocation group geometry is invalid`)
  const dirBlockLog = v.u8(192)
  if (dirBlockLog > 8) throw new FilesystemError('corrupt', `${label}: XFS directory block size is invalid`)
  const incompat = v5 ? v.u32be(216) : 0
  const unknown = incompat & ~INCOMPAT_KNOWN
  if (unknown) throw new FilesystemError('unsupported', `${label}: this XFS filesystem uses features this reader does not know (incompat 0x${unknown.toString(16)})`)
  if (!v5 && !(version & VERSION_DIRV2)) throw new FilesystemError('unsupported', `${label}: XFS with version 1 directories is not supported`)
  const features2 = v.u32be(200)
  const warnings: string[] = []
  if (v.u8(126) !== 0) warnings.push('The filesystem was still being created (sb_inprogress is set).')
  if (incompat & INCOMPAT_NEEDSREPAIR) warnings.push('xfs_repair flagged this filesystem as needing repair: some files may be damaged.')
  const uuidHex = v.bytes(32, 16).toString('hex')
  return {
    blockSize,
    dblocks: v.u64be(8),
    agBlocks,
    agCount,
    rootIno: v.big64be(56),
    inodeSize,
    blockLog,
    agBlockLog,
    inopbLog,
    dirBlockSize: blockSize << dirBlockLog,
    v5,
    ftype: v5 ? (incompat & INCOMPAT_FTYPE) !== 0 : (features2 & FEATURES2_FTYPE) !== 0,
    nrext64: (incompat & INCOMPAT_NREXT64) !== 0,
    label: v.bytes(108, 12).toString('utf8').replace(/\0.*$/s, ''),
    uuid: `${uuidHex.slice(0, 8)}-${uuidHex.slice(8, 12)}-${uuidHex.slice(12, 16)}-${uuidHex.slice(16, 20)}-${uuidHex.slice(20)}`,
    warnings,
  }
}

/** Byte offset of an inode from its number: AG number, block within the AG, slot within the block. */
export function inodeOffset(sb: XfsSuperblock, ino: bigint): number {
  const agShift = BigInt(sb.agBlockLog + sb.inopbLog)
  const agno = Number(ino >> agShift)
  const agbno = Number((ino >> BigInt(sb.inopbLog)) & ((1n << BigInt(sb.agBlockLog)) - 1n))
  const slot = Number(ino & ((1n << BigInt(sb.inopbLog)) - 1n))
  if (agno >= sb.agCount || agbno >= sb.agBlocks) return -1
  return (agno * sb.agBlocks + agbno) * sb.blockSize + slot * sb.inodeSize
}

/** Byte offset of a filesystem block number (AG number in the high bits, block in AG in the low agblklog bits). */
export function fsblockOffset(sb: XfsSuperblock, fsb: number): number {
  const agno = Math.floor(fsb / 2 ** sb.agBlockLog)
  const agbno = fsb % 2 ** sb.agBlockLog
  if (agno >= sb.agCount || agbno >= sb.agBlocks) return -1
  return (agno * sb.agBlocks + agbno) * sb.blockSize
}
