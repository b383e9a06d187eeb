import { FilesystemError } from '../errors'
import type { DataRun } from '../data-runs'
import type { VolumeReader } from '../volume-reader'
import { FLAG_EXTENTS, type ExtInode } from './ext-inode'

const EXTENT_MAGIC = 0xf30a
const MAX_EXTENT_DEPTH = 5
const UNINIT_LEN = 32768

interface Ctx {
  readonly reader: VolumeReader
  readonly blockSize: number
  readonly label: string
  readonly signal: AbortSignal | undefined
}

/** File data as runs: from the extent tree (ext4) or the classic block map (ext2/3). Holes are left as gaps. */
export function inodeRuns(reader: VolumeReader, inode: ExtInode, blockSize: number, signal?: AbortSignal): AsyncIterable<DataRun> {
  const ctx: Ctx = { reader, blockSize, label: reader.label, signal }
  return inode.flags & FLAG_EXTENTS ? extentRuns(ctx, inode) : blockMapRuns(ctx, inode)
}

async function* extentRuns(ctx: Ctx, inode: ExtInode): AsyncIterable<DataRun> {
  const seen = new Set<number>()
  yield* walkExtentNode(ctx, inode.iBlock, -1, seen, inode.ino)
}

async function* walkExtentNode(ctx: Ctx, node: Buffer, expectDepth: number, seen: Set<number>, ino: number): AsyncIterable<DataRun> {
  ctx.signal?.throwIfAborted()
  const fail = (m: string): FilesystemError => new FilesystemError('corrupt', `${ctx.label}: inode ${ino}: ${m}`, { inode: ino })
  if (node.length < 12 || node.readUInt16LE(0) !== EXTENT_MAGIC) throw fail('extent tree node has a bad magic number')
  const entries = node.readUInt16LE(2)
  const max = node.readUInt16LE(4)
  const depth = node.readUInt16LE(6)
  if (max > (node.length - 12) / 12 || entries > max) throw fail(`extent node claims ${entries}/${max} entries in ${node.length} bytes`)
  if (depth > MAX_EXTENT_DEPTH || (expectDepth >= 0 && depth !== expectDepth)) throw fail(`extent tree depth ${depth} is inconsistent`)
  let lastLogical = -1
  for (let i = 0; i < entries; i++) {
    const o = 12 + i * 12
    const logical = node.readUInt32LE(o)
    if (logical < lastLogical) throw fail('extent tree entries are out of order')
    lastLogical = logical
    if (depth === 0) {
      let len = node.readUInt16LE(o + 4)
      const uninit = len > UNINIT_LEN
      if (uninit) len -= UNINIT_LEN
      const start = node.readUInt16LE(o + 6) * 2 ** 32 + node.readUInt32LE(o + 8)
      yield { logical: logical * ctx.blockSize, length: len * ctx.blockSize, physical: uninit ? null : start * ctx.blockSize }
    } else {
      const child = node.readUInt32LE(o + 4) + node.readUInt16LE(o + 8) * 2 ** 32
      if (seen.has(child)) throw new FilesystemError('loop', `${ctx.label}: inode ${ino}: the extent tree refers to block ${child} twice`, { inode: ino })
      seen.add(child)
      if (seen.size > 1_000_000) throw new FilesystemError('too-large', `${ctx.label}: inode ${ino}: extent tree is implausibly large`)
      const buf = await ctx.reader.meta(child * ctx.blockSize, ctx.blockSize, 'extent tree block', ctx.signal)
      yield* walkExtentNode(ctx, buf, depth - 1, seen, ino)
    }
  }
}

/** ext2/3 block map: 12 direct pointers, then single, double and triple indirect blocks. */
async function* blockMapRuns(ctx: Ctx, inode: ExtInode): AsyncIterable<DataRun> {
  const bs = ctx.blockSize
  const per = bs / 4
  const totalBlocks = Math.ceil(inode.size / bs)
  let logical = 0
  const emit = (ptr: number): DataRun => ({ logical: logical * bs, length: bs, physical: ptr === 0 ? null : ptr * bs })
  for (let i = 0; i < 12 && logical < totalBlocks; i++, logical++) {
    const r = emit(inode.iBlock.readUInt32LE(i * 4))
    if (r.physical !== null) yield r
  }
  async function* indirect(ptr: number, level: number): AsyncIterable<DataRun> {
    const span = per ** level
    if (ptr === 0) {
      logical += span
      return
    }
    ctx.signal?.throwIfAborted()
    const buf = await ctx.reader.meta(ptr * bs, bs, 'indirect block', ctx.signal)
    for (let i = 0; i < per && logical < totalBlocks; i++) {
      const p = buf.readUInt32LE(i * 4)
      if (level === 1) {
        const r = emit(p)
        logical++
        if (r.physical !== null) yield r
      } else yield* indirect(p, level - 1)
    }
  }
  for (let level = 1; level <= 3 && logical < totalBlocks; level++) yield* indirect(inode.iBlock.readUInt32LE((11 + level) * 4), level)
}

export interface ExtDirent {
  readonly name: string
  readonly ino: number
}

/** Parses linear directory blocks (htree interior blocks look like empty entries and are skipped the same way). */
export function parseDirBlock(buf: Buffer, hasFileType: boolean, label: string, out: ExtDirent[]): void {
  let at = 0
  while (at + 8 <= buf.length) {
    const ino = buf.readUInt32LE(at)
    const recLen = buf.readUInt16LE(at + 4)
    const nameLen = hasFileType ? (buf[at + 6] ?? 0) : buf.readUInt16LE(at + 6)
    if (recLen < 8 || recLen % 4 !== 0 || at + recLen > buf.length || nameLen + 8 > recLen) {
      throw new FilesystemError('corrupt', `${label}: a directory block has a damaged entry at byte ${at}`)
    }
    if (ino !== 0 && nameLen > 0) {
      const name = buf.toString('utf8', at + 8, at + 8 + nameLen)
      if (name !== '.' && name !== '..') out.push({ name, ino })
    }
    at += recLen
  }
}
