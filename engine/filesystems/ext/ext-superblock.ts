import { ByteView } from '../../disks/byte-view'
import { FilesystemError, corrupt } from '../errors'
import type { FilesystemType } from '../types'

/** The ext2/3/4 superblock fields a reader needs (layout: the kernel's Documentation/filesystems/ext4). */
export const EXT_MAGIC = 0xef53
export const INCOMPAT_FILETYPE = 0x2
export const INCOMPAT_RECOVER = 0x4
export const INCOMPAT_JOURNAL_DEV = 0x8
export const INCOMPAT_META_BG = 0x10
export const INCOMPAT_EXTENTS = 0x40
export const INCOMPAT_64BIT = 0x80
export const INCOMPAT_INLINE_DATA = 0x8000
export const INCOMPAT_ENCRYPT = 0x10000
const INCOMPAT_KNOWN = 0x2 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x2000 | 0x4000 | 0x8000 | 0x10000 | 0x20000
const RO_COMPAT_SPARSE_SUPER = 0x1
const RO_COMPAT_HUGE_FILE = 0x8
const RO_COMPAT_BIGALLOC = 0x200
const COMPAT_HAS_JOURNAL = 0x4

export interface ExtSuperblock {
  readonly type: FilesystemType
  readonly blockSize: number
  /** Bytes of one allocation cluster: 2^n blocks under bigalloc, else one block. */
  readonly clusterSize: number
  readonly blocksCount: number
  readonly inodesCount: number
  readonly inodesPerGroup: number
  readonly blocksPerGroup: number
  readonly firstDataBlock: number
  readonly inodeSize: number
  readonly descSize: number
  readonly groupCount: number
  readonly incompat: number
  readonly sparseSuper: boolean
  readonly hugeFile: boolean
  readonly firstMetaBg: number
  readonly label: string
  readonly uuid: string
  readonly warnings: string[]
}

export function parseExtSuperblock(buf: Buffer, volumeSize: number, label: string): ExtSuperblock {
  const v = new ByteView(buf, corrupt(label), 'ext superblock')
  if (v.u16le(56) !== EXT_MAGIC) throw new FilesystemError('unknown-filesystem', `${label}: no ext2/3/4 superblock`)
  const logBlock = v.u32le(24)
  if (logBlock > 6) throw new FilesystemError('corrupt', `${label}: ext block size 2^${10 + logBlock} is invalid`)
  const blockSize = 1024 << logBlock
  const incompat = v.u32le(96)
  const compat = v.u32le(92)
  const roCompat = v.u32le(100)
  if (incompat & INCOMPAT_JOURNAL_DEV) throw new FilesystemError('unsupported', `${label} is an external ext journal device, not a filesystem with files`)
  const unknown = incompat & ~INCOMPAT_KNOWN
  if (unknown) throw new FilesystemError('unsupported', `${label}: this ext filesystem uses features this reader does not know (incompat 0x${unknown.toString(16)})`)
  const is64 = (incompat & INCOMPAT_64BIT) !== 0
  const blocksCount = v.u32le(4) + (is64 ? v.u32le(336) * 2 ** 32 : 0)
  const inodesPerGroup = v.u32le(40)
  const blocksPerGroup = v.u32le(32)
  const firstDataBlock = v.u32le(20)
  const rev = v.u32le(76)
  const inodeSize = rev === 0 ? 128 : v.u16le(88)
  const descSize = is64 ? v.u16le(254) : 32
  if (inodeSize < 128 || inodeSize > blockSize || (inodeSize & (inodeSize - 1)) !== 0) throw new FilesystemError('corrupt', `${label}: ext inode size ${inodeSize} is invalid`)
  if (descSize < 32 || descSize > 1024 || (descSize & (descSize - 1)) !== 0) throw new FilesystemError('corrupt', `${label}: ext group descriptor size ${descSize} is invalid`)
  // A group's block bitmap is one block with a bit per cluster; without bigalloc a cluster is a block. Extents,
  // block numbers and s_blocks_per_group stay in blocks under bigalloc: only this check needs clusters.
  let clustersPerGroup = blocksPerGroup
  let clusterSize = blockSize
  if (roCompat & RO_COMPAT_BIGALLOC) {
    const logCluster = v.u32le(28)
    if (logCluster < logBlock || logCluster > 20) throw new FilesystemError('corrupt', `${label}: ext cluster size 2^${10 + logCluster} with ${blockSize}-byte blocks is invalid`)
    const clusterRatio = 2 ** (logCluster - logBlock)
    clusterSize = blockSize * clusterRatio
    clustersPerGroup = v.u32le(36)
    if (clustersPerGroup * clusterRatio !== blocksPerGroup) {
      throw new FilesystemError('corrupt', `${label}: ext group geometry (${blocksPerGroup} blocks but ${clustersPerGroup} clusters of ${clusterRatio} blocks per group) is invalid`)
    }
  }
  if (clustersPerGroup === 0 || inodesPerGroup === 0 || clustersPerGroup > blockSize * 8 || inodesPerGroup > blockSize * 8) {
    throw new FilesystemError('corrupt', `${label}: ext group geometry (${blocksPerGroup} blocks, ${inodesPerGroup} inodes per group) is invalid`)
  }
  if (blocksCount <= firstDataBlock) throw new FilesystemError('corrupt', `${label}: ext block count ${blocksCount} is invalid`)
  const groupCount = Math.ceil((blocksCount - firstDataBlock) / blocksPerGroup)
  const warnings: string[] = []
  if (incompat & INCOMPAT_RECOVER) warnings.push('The journal needs recovery (the filesystem was not unmounted cleanly): the most recent changes may be missing.')
  if (blocksCount * blockSize > volumeSize) warnings.push(`The filesystem claims ${blocksCount * blockSize} bytes but the volume has ${volumeSize}: files near the end may be unreadable.`)
  const type: FilesystemType = incompat & (INCOMPAT_EXTENTS | INCOMPAT_64BIT | 0x200 | INCOMPAT_INLINE_DATA) ? 'ext4' : compat & COMPAT_HAS_JOURNAL ? 'ext3' : 'ext2'
  const uuidHex = v.bytes(104, 16).toString('hex')
  return {
    type,
    blockSize,
    clusterSize,
    blocksCount,
    inodesCount: v.u32le(0),
    inodesPerGroup,
    blocksPerGroup,
    firstDataBlock,
    inodeSize,
    descSize,
    groupCount,
    incompat,
    sparseSuper: (roCompat & RO_COMPAT_SPARSE_SUPER) !== 0,
    hugeFile: (roCompat & RO_COMPAT_HUGE_FILE) !== 0,
    firstMetaBg: v.u32le(260),
    label: v.bytes(120, 16).toString('utf8').replace(/\0.*$/s, ''),
    uuid: `${uuidHex.slice(0, 8)}-${uuidHex.slice(8, 12)}-${uuidHex.slice(12, 16)}-${uuidHex.slice(16, 20)}-${uuidHex.slice(20)}`,
    warnings,
  }
}

function isPowerOf(n: number, base: number): boolean {
  if (n < 1) return false
  while (n % base === 0) n /= base
  return n === 1
}

/** Whether block group g carries a superblock backup (and so its descriptors start one block later under meta_bg). */
export function groupHasSuper(sb: ExtSuperblock, g: number): boolean {
  if (!sb.sparseSuper || g <= 1) return true
  return isPowerOf(g, 3) || isPowerOf(g, 5) || isPowerOf(g, 7)
}

/**
 * Volume block holding the descriptor of group g (classic layout or meta_bg), as the kernel's descriptor_loc:
 * the table follows the block holding the superblock (byte 1024), which is block 1 with 1 KiB blocks even when
 * s_first_data_block is 0 (bigalloc), and block 0 with larger blocks.
 */
export function descriptorBlock(sb: ExtSuperblock, g: number): number {
  const perBlock = sb.blockSize / sb.descSize
  const metaGroup = Math.floor(g / perBlock)
  const superBlock = Math.floor(1024 / sb.blockSize)
  if (!(sb.incompat & INCOMPAT_META_BG) || metaGroup < sb.firstMetaBg) return superBlock + 1 + metaGroup
  const first = metaGroup * perBlock
  const skip = (groupHasSuper(sb, first) ? 1 : 0) + (sb.blockSize === 1024 && first === 0 && sb.firstDataBlock === 0 ? 1 : 0)
  return sb.firstDataBlock + first * sb.blocksPerGroup + skip
}
