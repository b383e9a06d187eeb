import { ByteView } from '../../disks/byte-view'
import { FilesystemError, corrupt } from '../errors'

export const CHUNK_ITEM = 228
const CHUNK_HEADER = 48
const STRIPE_SIZE = 32
const KEY_SIZE = 17
const PROFILES: readonly [bigint, string][] = [
  [0x8n, 'RAID0'],
  [0x10n, 'RAID1'],
  [0x40n, 'RAID10'],
  [0x80n, 'RAID5'],
  [0x100n, 'RAID6'],
  [0x200n, 'RAID1C3'],
  [0x400n, 'RAID1C4'],
]
const DUP = 0x20n

/** One chunk: `length` logical bytes at `logical`, stored whole at each of `copies` (SINGLE: one, DUP: two). */
export interface Chunk {
  readonly logical: number
  readonly length: number
  readonly copies: readonly number[]
}

/** Decodes a chunk item (at `at` in `buf`, `size` bytes) for the chunk at `logical` on a single-device filesystem. */
export function parseChunk(buf: Buffer, at: number, size: number, logical: number, devid: bigint, label: string): Chunk {
  const v = new ByteView(buf.subarray(at, at + size), corrupt(label), `btrfs chunk at ${logical}`)
  const length = v.u64le(0)
  const type = v.big64le(24)
  const numStripes = v.u16le(44)
  if (length === 0 || numStripes === 0 || CHUNK_HEADER + numStripes * STRIPE_SIZE > size) throw new FilesystemError('corrupt', `${label}: the btrfs chunk at ${logical} is damaged`)
  for (const [bit, name] of PROFILES) {
    if (type & bit) throw new FilesystemError('unsupported', `${label}: this btrfs filesystem stores data as ${name} (chunk at ${logical}); only SINGLE and DUP on one device can be read`)
  }
  if ((type & DUP ? 2 : 1) !== numStripes) throw new FilesystemError('corrupt', `${label}: the btrfs chunk at ${logical} has ${numStripes} stripes for its profile`)
  const copies: number[] = []
  for (let s = 0; s < numStripes; s++) {
    const at = CHUNK_HEADER + s * STRIPE_SIZE
    if (v.big64le(at) !== devid) throw new FilesystemError('unsupported', `${label}: the btrfs chunk at ${logical} lives on another device (devid ${v.big64le(at)}); multi-device btrfs cannot be read`)
    copies.push(v.u64le(at + 8))
  }
  if (!Number.isSafeInteger(logical + length)) throw new FilesystemError('corrupt', `${label}: the btrfs chunk at ${logical} is impossibly large`)
  return { logical, length, copies }
}

/** Logical → physical addresses for the chunks seen so far (bootstrap array first, then the chunk tree). */
export class ChunkMap {
  private chunks: Chunk[] = []

  constructor(private readonly label: string) {}

  add(c: Chunk): void {
    const same = this.chunks.find((o) => o.logical === c.logical)
    if (same) return
    if (this.chunks.some((o) => o.logical < c.logical + c.length && c.logical < o.logical + o.length)) throw new FilesystemError('corrupt', `${this.label}: btrfs chunks at ${c.logical} overlap`)
    this.chunks.push(c)
    this.chunks.sort((a, b) => a.logical - b.logical)
  }

  get count(): number {
    return this.chunks.length
  }

  /** Physical offsets of every copy of [logical, logical + length), which must lie within one chunk. */
  map(logical: number, length: number, what: string): readonly number[] {
    let lo = 0
    let hi = this.chunks.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const c = this.chunks[mid]
      if (!c) break
      if (logical < c.logical) hi = mid - 1
      else if (logical >= c.logical + c.length) lo = mid + 1
      else {
        if (logical + length > c.logical + c.length) throw new FilesystemError('corrupt', `${this.label}: ${what} at logical ${logical} runs past the end of its btrfs chunk`)
        return c.copies.map((p) => p + (logical - c.logical))
      }
    }
    throw new FilesystemError('corrupt', `${this.label}: ${what} at logical ${logical} lies in no btrfs chunk`)
  }
}

/** The superblock's bootstrap chunks: a packed list of (key, chunk item). */
export function parseSysChunkArray(array: Buffer, devid: bigint, label: string, into: ChunkMap): void {
  let at = 0
  while (at < array.length) {
    if (at + KEY_SIZE + CHUNK_HEADER > array.length) throw new FilesystemError('corrupt', `${label}: the btrfs system chunk array is damaged`)
    if (array[at + 8] !== CHUNK_ITEM) throw new FilesystemError('corrupt', `${label}: the btrfs system chunk array holds something other than chunks`)
    const logical = Number(array.readBigUInt64LE(at + 9))
    const stripes = array.readUInt16LE(at + KEY_SIZE + 44)
    const size = CHUNK_HEADER + stripes * STRIPE_SIZE
    if (at + KEY_SIZE + size > array.length) throw new FilesystemError('corrupt', `${label}: the btrfs system chunk array is damaged`)
    into.add(parseChunk(array, at + KEY_SIZE, size, logical, devid, label))
    at += KEY_SIZE + size
  }
  if (into.count === 0) throw new FilesystemError('corrupt', `${label}: the btrfs superblock lists no system chunks`)
}
