import { LruCache } from '../../disks/lru-cache'
import { clampRange, streamRunData, streamRuns, type DataRun } from '../data-runs'
import type { DriverDirent, FsDriver } from '../driver'
import { FilesystemError } from '../errors'
import { posixEntry, type DataPiece, type FsEntry, type ReadFileOptions, type VolumeInfo } from '../types'
import type { VolumeReader } from '../volume-reader'
import { parseDataBlock, parseShortformDir, type XfsDirent } from './xfs-dir'
import { FORMAT_EXTENTS, FORMAT_LOCAL, FORMAT_BTREE, inodeExtents, parseXfsInode, type XfsInode } from './xfs-inode'
import { fsblockOffset, inodeOffset, parseXfsSuperblock, type XfsSuperblock } from './xfs-superblock'

const MAX_DIR_BYTES = 256 * 1024 * 1024

/** XFS v4/v5: short-form, block, leaf, node and B+tree directories; extent-list and B+tree files; symlinks. */
export class XfsDriver implements FsDriver<bigint> {
  readonly info: VolumeInfo
  private readonly inodes = new LruCache<bigint, XfsInode>(4096)

  private constructor(
    private readonly reader: VolumeReader,
    private readonly sb: XfsSuperblock,
  ) {
    this.info = {
      type: 'xfs',
      label: sb.label,
      uuid: sb.uuid,
      size: sb.dblocks * sb.blockSize,
      blockSize: sb.blockSize,
      caseInsensitive: false,
      warnings: sb.warnings,
    }
  }

  static async open(reader: VolumeReader, signal?: AbortSignal): Promise<XfsDriver> {
    const sb = parseXfsSuperblock(await reader.meta(0, 512, 'XFS superblock', signal), reader.label)
    const d = new XfsDriver(reader, sb)
    await d.inode(sb.rootIno, signal)
    return d
  }

  root(): Promise<bigint> {
    return Promise.resolve(this.sb.rootIno)
  }
  key(node: bigint): string {
    return node.toString()
  }

  async inode(ino: bigint, signal?: AbortSignal): Promise<XfsInode> {
    const hit = this.inodes.get(ino)
    if (hit) return hit
    const at = inodeOffset(this.sb, ino)
    if (at < 0) throw new FilesystemError('corrupt', `${this.reader.label}: XFS inode number ${ino} is outside the filesystem`, { inode: String(ino) })
    const inode = parseXfsInode(await this.reader.meta(at, this.sb.inodeSize, `XFS inode ${ino}`, signal), ino, this.reader.label)
    this.inodes.set(ino, inode)
    return inode
  }

  private async *runs(inode: XfsInode, signal?: AbortSignal): AsyncIterable<DataRun> {
    const bs = this.sb.blockSize
    for await (const e of inodeExtents(this.reader, this.sb, inode, signal)) {
      const physical = fsblockOffset(this.sb, e.startblock)
      if (physical < 0 && !e.unwritten) throw new FilesystemError('corrupt', `${this.reader.label}: XFS inode ${inode.ino} has an extent outside the filesystem`)
      yield { logical: e.startoff * bs, length: e.blockcount * bs, physical: e.unwritten ? null : physical }
    }
  }

  private async contents(inode: XfsInode, limit: number, signal?: AbortSignal): Promise<Buffer> {
    if (inode.size > limit) throw new FilesystemError('too-large', `${this.reader.label}: XFS inode ${inode.ino} is implausibly large`)
    const parts: Buffer[] = []
    for await (const b of streamRuns(this.reader, this.runs(inode, signal), 0, inode.size, signal)) parts.push(b)
    return Buffer.concat(parts)
  }

  async readDir(dir: bigint, signal?: AbortSignal): Promise<DriverDirent<bigint>[]> {
    const inode = await this.inode(dir, signal)
    if (inode.type !== 'directory') throw new FilesystemError('not-a-directory', `${this.reader.label}: XFS inode ${dir} is not a directory`)
    let entries: XfsDirent[]
    if (inode.format === FORMAT_LOCAL) entries = parseShortformDir(inode.fork, this.sb.ftype, this.reader.label)
    else if (inode.format === FORMAT_EXTENTS || inode.format === FORMAT_BTREE) {
      // di_size of a directory covers its data blocks only; leaf and free-index blocks live beyond it.
      const data = await this.contents(inode, MAX_DIR_BYTES, signal)
      entries = []
      const dbs = this.sb.dirBlockSize
      for (let at = 0; at + dbs <= data.length; at += dbs) parseDataBlock(data.subarray(at, at + dbs), this.sb.ftype, this.reader.label, entries)
    } else throw new FilesystemError('corrupt', `${this.reader.label}: XFS directory ${dir} has data format ${inode.format}`)
    return entries.map((e) => ({ name: e.name, node: e.ino }))
  }

  async describe(node: bigint, name: string, signal?: AbortSignal): Promise<FsEntry> {
    const i = await this.inode(node, signal)
    return posixEntry(name, node.toString(), { ...i, allocated: i.nblocks * this.sb.blockSize }, i.type === 'symlink' ? await this.readlink(node, signal) : undefined)
  }

  async readlink(node: bigint, signal?: AbortSignal): Promise<string> {
    const i = await this.inode(node, signal)
    if (i.type !== 'symlink') throw new FilesystemError('not-a-symlink', `${this.reader.label}: XFS inode ${node} is not a symbolic link`)
    if (i.size > 1024 * 4) throw new FilesystemError('corrupt', `${this.reader.label}: XFS symlink ${node} is ${i.size} bytes long`)
    if (i.format === FORMAT_LOCAL) {
      if (i.size > i.fork.length) throw new FilesystemError('corrupt', `${this.reader.label}: XFS symlink ${node} is longer than its inode`)
      return i.fork.toString('utf8', 0, i.size)
    }
    // Remote symlink blocks carry a 56-byte "XSLM" header on v5 filesystems.
    const parts: Buffer[] = []
    let left = i.size
    for await (const run of this.runs(i, signal)) {
      if (run.physical === null) continue
      for (let at = 0; at < run.length && left > 0; at += this.sb.blockSize) {
        const block = await this.reader.meta(run.physical + at, this.sb.blockSize, 'XFS symlink block', signal)
        const hdr = this.sb.v5 && block.toString('latin1', 0, 4) === 'XSLM' ? 56 : 0
        const take = Math.min(left, block.length - hdr)
        parts.push(block.subarray(hdr, hdr + take))
        left -= take
      }
    }
    return Buffer.concat(parts).toString('utf8')
  }

  async *read(node: bigint, options: ReadFileOptions): AsyncIterable<Buffer> {
    const i = await this.inode(node, options.signal)
    if (options.stream !== undefined) throw new FilesystemError('not-found', `${this.reader.label}: XFS files have no named streams`)
    if (i.type === 'directory') throw new FilesystemError('is-a-directory', `${this.reader.label}: XFS inode ${node} is a directory`)
    if (i.type !== 'file') return
    if (i.realtime) throw new FilesystemError('unsupported', `${this.reader.label}: this file lives on the XFS realtime device, which is a separate disk; it cannot be read from this volume`)
    const { start, end } = clampRange(i.size, options.start, options.end)
    if (i.format === FORMAT_LOCAL) {
      yield Buffer.from(i.fork.subarray(start, Math.min(end, i.fork.length)))
      return
    }
    yield* streamRuns(this.reader, this.runs(i, options.signal), start, end, options.signal)
  }

  async *readData(node: bigint, signal?: AbortSignal): AsyncIterable<DataPiece> {
    const i = await this.inode(node, signal)
    if (i.type !== 'file' || i.realtime || i.format === FORMAT_LOCAL) {
      let offset = 0
      for await (const data of this.read(node, signal ? { signal } : {})) {
        yield { offset, data }
        offset += data.length
      }
      return
    }
    yield* streamRunData(this.reader, this.runs(i, signal), 0, i.size, signal)
  }

  close(): Promise<void> {
    this.inodes.clear()
    return Promise.resolve()
  }
}
