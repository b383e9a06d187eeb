import type { BlockSource } from '../block-source'
import { ByteView } from '../byte-view'
import { DiskFormatError } from '../errors'
import { readStructure } from '../source-read'

/** The qcow2 header (versions 2 and 3) and the extensions a reader needs, per QEMU's docs/interop/qcow2.txt. */
export const QCOW2_MAGIC = 0x514649fb
const INCOMPAT_DIRTY = 1n
const INCOMPAT_CORRUPT = 2n
const INCOMPAT_EXTERNAL_DATA = 4n
const INCOMPAT_COMPRESSION_TYPE = 8n
const INCOMPAT_EXTENDED_L2 = 16n
const KNOWN_INCOMPAT = INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_EXTERNAL_DATA | INCOMPAT_COMPRESSION_TYPE | INCOMPAT_EXTENDED_L2
const EXT_BACKING_FORMAT = 0xe2792aca
const EXT_END = 0

export interface Qcow2Header {
  readonly version: number
  readonly clusterBits: number
  readonly size: number
  readonly l1Size: number
  readonly l1Offset: number
  readonly backingFile?: string
  readonly backingFormat?: string
  readonly compression: 'zlib' | 'zstd'
  readonly extendedL2: boolean
  /** The image was not closed cleanly or QEMU flagged it corrupt; data is still read, refcounts are not used. */
  readonly dirty: boolean
  readonly markedCorrupt: boolean
}

export async function readQcow2Header(source: BlockSource, signal?: AbortSignal): Promise<Qcow2Header> {
  const label = source.label
  const buf = await readStructure(source, 0, Math.min(source.size, 4096), 'qcow2 header', signal)
  const v = new ByteView(buf, (m) => new DiskFormatError('truncated', `${label}: ${m}`), 'qcow2 header')
  if (v.u32be(0) !== QCOW2_MAGIC) throw new DiskFormatError('bad-signature', `${label} is not a qcow2 image`)
  const version = v.u32be(4)
  if (version !== 2 && version !== 3) throw new DiskFormatError('unsupported', `${label}: qcow2 version ${version} is not supported (only 2 and 3)`, { version })
  const clusterBits = v.u32be(20)
  if (clusterBits < 9 || clusterBits > 21) throw new DiskFormatError('corrupt', `${label}: qcow2 cluster size 2^${clusterBits} is outside 512 B – 2 MiB`)
  const crypt = v.u32be(32)
  if (crypt !== 0) throw new DiskFormatError('unsupported', `${label} is an encrypted qcow2 image (method ${crypt}); encrypted images are not supported`)
  let incompat = 0n
  let headerLength = 72
  let compression: Qcow2Header['compression'] = 'zlib'
  if (version === 3) {
    incompat = v.big64be(72)
    headerLength = v.u32be(100)
    if (headerLength < 104 || headerLength > buf.length) throw new DiskFormatError('corrupt', `${label}: qcow2 header length ${headerLength} is invalid`)
    const unknown = incompat & ~KNOWN_INCOMPAT
    if (unknown !== 0n) throw new DiskFormatError('unsupported', `${label} uses qcow2 features this reader does not know (incompatible bits 0x${unknown.toString(16)})`)
    if (incompat & INCOMPAT_EXTERNAL_DATA) throw new DiskFormatError('unsupported', `${label} keeps its data in an external file; such qcow2 images are not supported`)
    if (incompat & INCOMPAT_COMPRESSION_TYPE) {
      const type = headerLength > 104 ? v.u8(104) : 0
      if (type === 1) compression = 'zstd'
      else if (type !== 0) throw new DiskFormatError('unsupported', `${label}: unknown qcow2 compression type ${type}`)
    }
  }
  const size = v.u64be(24)
  const l1Size = v.u32be(36)
  // L1 covers size / (cluster * entries-per-L2); more than that is damage, and 32 Mi entries is a 4 EiB disk at 64 KiB.
  if (l1Size > 32 * 1024 * 1024) throw new DiskFormatError('too-large', `${label}: qcow2 L1 table of ${l1Size} entries is implausible`)
  const extendedL2 = (incompat & INCOMPAT_EXTENDED_L2) !== 0n
  const l2Entries = 2 ** clusterBits / (extendedL2 ? 16 : 8)
  if (l1Size * l2Entries * 2 ** clusterBits < size) throw new DiskFormatError('corrupt', `${label}: the qcow2 L1 table (${l1Size} entries) cannot cover the ${size}-byte disk`)
  let backingFile: string | undefined
  const backingOffset = v.u64be(8)
  const backingSize = v.u32be(16)
  if (backingOffset !== 0) {
    if (backingSize === 0 || backingSize > 1023) throw new DiskFormatError('corrupt', `${label}: qcow2 backing file name length ${backingSize} is invalid`)
    backingFile = (await readStructure(source, backingOffset, backingSize, 'qcow2 backing file name', signal)).toString('utf8')
  }
  let backingFormat: string | undefined
  let at = headerLength
  for (let i = 0; i < 64 && at + 8 <= buf.length; i++) {
    const type = v.u32be(at)
    const len = v.u32be(at + 4)
    if (type === EXT_END) break
    if (type === EXT_BACKING_FORMAT) backingFormat = v.ascii(at + 8, len)
    at += 8 + Math.ceil(len / 8) * 8
  }
  return {
    version,
    clusterBits,
    size,
    l1Size,
    l1Offset: v.u64be(40),
    ...(backingFile !== undefined ? { backingFile } : {}),
    ...(backingFormat !== undefined ? { backingFormat } : {}),
    compression,
    extendedL2,
    dirty: (incompat & INCOMPAT_DIRTY) !== 0n,
    markedCorrupt: (incompat & INCOMPAT_CORRUPT) !== 0n,
  }
}
