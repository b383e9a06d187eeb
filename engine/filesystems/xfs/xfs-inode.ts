import { ByteView } from '../../disks/byte-view'
import { FilesystemError, corrupt } from '../errors'
import { typeFromMode } from '../ext/ext-inode'
import type { EntryType } from '../types'
import type { VolumeReader } from '../volume-reader'
import { fsblockOffset, type XfsSuperblock } from './xfs-superblock'

export const FORMAT_LOCAL = 1
export const FORMAT_EXTENTS = 2
export const FORMAT_BTREE = 3
const FLAGS2_BIGTIME = 0x8n
const FLAGS2_NREXT64 = 0x10n
const BIGTIME_EPOCH_OFFSET = 2 ** 31

export interface XfsInode {
  readonly ino: bigint
  readonly mode: number
  readonly type: EntryType
  readonly format: number
  readonly uid: number
  readonly gid: number
  readonly nlink: number
  readonly size: number
  /** Blocks allocated to the inode (data and extent btree blocks). */
  readonly nblocks: number
  readonly nextents: number
  /** The data lives on the realtime device, which is not part of this volume. */
  readonly realtime: boolean
  readonly atime: Date
  readonly mtime: Date
  readonly ctime: Date
  readonly crtime?: Date
  /** The data fork's literal area (local data, extent list or B+tree root). */
  readonly fork: Buffer
}

export interface XfsExtent {
  readonly startoff: number
  readonly startblock: number
  readonly blockcount: number
  readonly unwritten: boolean
}

function time(v: ByteView, at: number, bigtime: boolean): Date {
  if (bigtime) {
    const ns = v.big64be(at)
    return new Date((Number(ns / 1_000_000n) - BIGTIME_EPOCH_OFFSET * 1000))
  }
  return new Date(v.buf.readInt32BE(at) * 1000 + Math.floor(v.u32be(at + 4) / 1e6))
}

export function parseXfsInode(buf: Buffer, ino: bigint, label: string): XfsInode {
  const v = new ByteView(buf, corrupt(label), `XFS inode ${ino}`)
  if (v.u16be(0) !== 0x494e) throw new FilesystemError('corrupt', `${label}: XFS inode ${ino} has a bad magic number`, { inode: String(ino) })
  const version = v.u8(4)
  const core = version >= 3 ? 176 : 100
  const flags2 = version >= 3 ? v.big64be(120) : 0n
  const bigtime = (flags2 & FLAGS2_BIGTIME) !== 0n
  const forkoff = v.u8(82)
  const forkEnd = forkoff ? core + forkoff * 8 : buf.length
  if (forkEnd > buf.length) throw new FilesystemError('corrupt', `${label}: XFS inode ${ino} has an impossible fork offset`)
  const mode = v.u16be(2)
  const nextents = flags2 & FLAGS2_NREXT64 ? v.u64be(24) : v.u32be(76)
  const crtime = version >= 3 ? time(v, 144, bigtime) : undefined
  return {
    ino,
    mode,
    type: typeFromMode(mode),
    format: v.u8(5),
    uid: v.u32be(8),
    gid: v.u32be(12),
    nlink: version >= 2 ? v.u32be(16) : v.u16be(6),
    size: v.u64be(56),
    // Only an estimate for free-space checks: an absurd count is clamped rather than making the inode unreadable.
    nblocks: Number(minBig(v.big64be(64), 2n ** 40n)),
    nextents,
    realtime: (v.u16be(90) & 1) !== 0,
    atime: time(v, 32, bigtime),
    mtime: time(v, 40, bigtime),
    ctime: time(v, 48, bigtime),
    ...(crtime ? { crtime } : {}),
    fork: buf.subarray(core, forkEnd),
  }
}

function decodeExtent(b: Buffer, at: number): XfsExtent {
  const l0 = b.readBigUInt64BE(at)
  const l1 = b.readBigUInt64BE(at + 8)
  return {
    unwritten: l0 >> 63n === 1n,
    startoff: Number((l0 >> 9n) & ((1n << 54n) - 1n)),
    startblock: Number(((l0 & 0x1ffn) << 43n) | (l1 >> 21n)),
    blockcount: Number(l1 & ((1n << 21n) - 1n)),
  }
}

/** The data fork's extents, from an in-inode list or by walking the B+tree (bounded, loop-checked). */
export async function* inodeExtents(reader: VolumeReader, sb: XfsSuperblock, inode: XfsInode, signal?: AbortSignal): AsyncIterable<XfsExtent> {
  const label = reader.label
  if (inode.format === FORMAT_EXTENTS) {
    if (inode.nextents * 16 > inode.fork.length) throw new FilesystemError('corrupt', `${label}: XFS inode ${inode.ino} claims ${inode.nextents} extents, more than fit in the inode`)
    for (let i = 0; i < inode.nextents; i++) yield decodeExtent(inode.fork, i * 16)
    return
  }
  if (inode.format !== FORMAT_BTREE) throw new FilesystemError('corrupt', `${label}: XFS inode ${inode.ino} has data format ${inode.format}, which holds no extents`)
  const root = new ByteView(inode.fork, corrupt(label), `XFS inode ${inode.ino} B+tree root`)
  const level = root.u16be(0)
  const numrecs = root.u16be(2)
  const maxrecs = Math.floor((inode.fork.length - 4) / 16)
  if (level === 0 || level > 9 || numrecs > maxrecs) throw new FilesystemError('corrupt', `${label}: XFS inode ${inode.ino} has a damaged B+tree root`)
  const seen = new Set<number>()
  for (let i = 0; i < numrecs; i++) yield* walkBtree(reader, sb, root.u64be(4 + maxrecs * 8 + i * 8), level - 1, seen, inode.ino, signal)
}

async function* walkBtree(reader: VolumeReader, sb: XfsSuperblock, fsb: number, level: number, seen: Set<number>, ino: bigint, signal?: AbortSignal): AsyncIterable<XfsExtent> {
  signal?.throwIfAborted()
  const label = reader.label
  if (seen.has(fsb)) throw new FilesystemError('loop', `${label}: XFS inode ${ino}: the extent B+tree visits block ${fsb} twice`)
  seen.add(fsb)
  const at = fsblockOffset(sb, fsb)
  if (at < 0) throw new FilesystemError('corrupt', `${label}: XFS inode ${ino}: B+tree block ${fsb} is outside the filesystem`)
  const block = await reader.meta(at, sb.blockSize, 'XFS B+tree block', signal)
  const v = new ByteView(block, corrupt(label), 'XFS B+tree block')
  const magic = v.ascii(0, 4)
  const hdr = magic === 'BMA3' ? 72 : magic === 'BMAP' ? 24 : 0
  if (hdr === 0) throw new FilesystemError('corrupt', `${label}: XFS inode ${ino}: B+tree block ${fsb} has a bad magic number`)
  if (v.u16be(4) !== level) throw new FilesystemError('corrupt', `${label}: XFS inode ${ino}: B+tree levels are inconsistent`)
  const numrecs = v.u16be(6)
  const maxrecs = Math.floor((sb.blockSize - hdr) / 16)
  if (numrecs > maxrecs) throw new FilesystemError('corrupt', `${label}: XFS inode ${ino}: B+tree block ${fsb} claims ${numrecs} records`)
  if (level === 0) {
    for (let i = 0; i < numrecs; i++) yield decodeExtent(block, hdr + i * 16)
    return
  }
  for (let i = 0; i < numrecs; i++) yield* walkBtree(reader, sb, v.u64be(hdr + maxrecs * 8 + i * 8), level - 1, seen, ino, signal)
}

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b
}
