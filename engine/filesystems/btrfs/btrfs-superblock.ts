import { ByteView } from '../../disks/byte-view'
import { crc32c } from '../../disks/crc32c'
import { FilesystemError, corrupt } from '../errors'

export const SUPERBLOCK_OFFSET = 65536
const SUPERBLOCK_SIZE = 4096
const SYS_CHUNK_ARRAY_MAX = 2048
const CSUM_CRC32C = 0
const CSUM_NAMES = ['crc32c', 'xxhash64', 'sha256', 'blake2b']

const INCOMPAT_METADATA_UUID = 1n << 10n
const INCOMPAT_REFUSED: readonly [bigint, string][] = [
  [1n << 12n, 'zoned mode'],
  [1n << 13n, 'extent tree v2'],
  [1n << 14n, 'the RAID stripe tree'],
]
// mixed backrefs, default subvolume, mixed groups, lzo, zstd, big metadata, extended irefs, raid56 (refused per
// chunk), skinny metadata, no-holes, metadata uuid, raid1c34 (refused per chunk), simple quotas.
const INCOMPAT_KNOWN = 0x1fffn | (1n << 16n)

export interface BtrfsSuperblock {
  readonly fsid: Buffer
  /** What every tree block carries in its fsid field (the metadata UUID when that feature is on). */
  readonly metadataFsid: Buffer
  readonly generation: bigint
  readonly rootTree: number
  readonly rootLevel: number
  readonly chunkTree: number
  readonly chunkLevel: number
  readonly chunkGeneration: bigint
  readonly logRoot: number
  readonly totalBytes: number
  readonly numDevices: number
  readonly sectorSize: number
  readonly nodeSize: number
  readonly devid: bigint
  readonly label: string
  readonly uuid: string
  /** The bootstrap copy of the SYSTEM chunks: (key, chunk item) pairs. */
  readonly sysChunkArray: Buffer
}

const pow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0

export function formatUuid(b: Buffer): string {
  const h = b.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`
}

/** Checks and decodes the primary superblock (4 KiB at 64 KiB). */
export function parseBtrfsSuperblock(buf: Buffer, label: string): BtrfsSuperblock {
  const v = new ByteView(buf, corrupt(label), 'btrfs superblock')
  v.check(0, SUPERBLOCK_SIZE)
  if (v.ascii(64, 8) !== '_BHRfS_M') throw new FilesystemError('unknown-filesystem', `${label}: no btrfs superblock`)
  const csumType = v.u16le(0xc4)
  if (csumType !== CSUM_CRC32C) {
    throw new FilesystemError('unsupported', `${label}: this btrfs filesystem uses ${CSUM_NAMES[csumType] ?? `checksum type ${csumType}`} checksums; only crc32c is supported`)
  }
  if (crc32c(buf.subarray(32, SUPERBLOCK_SIZE)) !== v.u32le(0)) throw new FilesystemError('corrupt', `${label}: the btrfs superblock checksum does not match (damaged superblock)`)
  if (v.u64le(0x30) !== SUPERBLOCK_OFFSET) throw new FilesystemError('corrupt', `${label}: the btrfs superblock names the wrong location for itself`)
  const sectorSize = v.u32le(0x90)
  const nodeSize = v.u32le(0x94)
  if (!pow2(sectorSize) || sectorSize < 4096 || sectorSize > 65536) throw new FilesystemError('corrupt', `${label}: btrfs sector size ${sectorSize} is invalid`)
  if (!pow2(nodeSize) || nodeSize < sectorSize || nodeSize > 65536) throw new FilesystemError('corrupt', `${label}: btrfs node size ${nodeSize} is invalid`)
  const numDevices = v.u64le(0x88)
  if (numDevices !== 1) {
    throw new FilesystemError('unsupported', `${label}: this btrfs filesystem spans ${numDevices} devices; only single-device btrfs can be read (multi-device filesystems need all their disks)`)
  }
  const incompat = v.big64le(0xbc)
  for (const [bit, name] of INCOMPAT_REFUSED) if (incompat & bit) throw new FilesystemError('unsupported', `${label}: this btrfs filesystem uses ${name}, which this reader does not support`)
  const unknown = incompat & ~INCOMPAT_KNOWN
  if (unknown) throw new FilesystemError('unsupported', `${label}: this btrfs filesystem uses features this reader does not know (incompat 0x${unknown.toString(16)})`)
  const sysSize = v.u32le(0xa0)
  if (sysSize > SYS_CHUNK_ARRAY_MAX) throw new FilesystemError('corrupt', `${label}: the btrfs system chunk array is ${sysSize} bytes long (at most ${SYS_CHUNK_ARRAY_MAX})`)
  const rootLevel = v.u8(0xc6)
  const chunkLevel = v.u8(0xc7)
  if (rootLevel >= 8 || chunkLevel >= 8) throw new FilesystemError('corrupt', `${label}: btrfs tree levels in the superblock are impossible`)
  const fsid = Buffer.from(v.bytes(0x20, 16))
  return {
    fsid,
    metadataFsid: incompat & INCOMPAT_METADATA_UUID ? Buffer.from(v.bytes(0x23b, 16)) : fsid,
    generation: v.big64le(0x48),
    rootTree: v.u64le(0x50),
    rootLevel,
    chunkTree: v.u64le(0x58),
    chunkLevel,
    chunkGeneration: v.big64le(0xa4),
    logRoot: v.u64le(0x60),
    totalBytes: v.u64le(0x70),
    numDevices,
    sectorSize,
    nodeSize,
    devid: v.big64le(0xc9),
    label: v.bytes(0x12b, 256).toString('utf8').replace(/\0.*$/s, ''),
    uuid: formatUuid(fsid),
    sysChunkArray: Buffer.from(v.bytes(0x32b, sysSize)),
  }
}
