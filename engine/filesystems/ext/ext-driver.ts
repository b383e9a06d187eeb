import { LruCache } from '../../disks/lru-cache'
import { clampRange, streamRunData, streamRuns } from '../data-runs'
import type { DriverDirent, FsDriver } from '../driver'
import { FilesystemError } from '../errors'
import { posixEntry, type DataPiece, type FsEntry, type ReadFileOptions, type VolumeInfo } from '../types'
import type { VolumeReader } from '../volume-reader'
import { inodeRuns, parseDirBlock, type ExtDirent } from './ext-blocks'
import { FLAG_ENCRYPT, FLAG_EXTENTS, FLAG_INLINE_DATA, findInodeXattr, parseExtInode, type ExtInode } from './ext-inode'
import { INCOMPAT_FILETYPE, descriptorBlock, parseExtSuperblock, type ExtSuperblock } from './ext-superblock'

const ROOT_INO = 2
const MAX_DIR_BYTES = 256 * 1024 * 1024
const XATTR_INDEX_SYSTEM = 7

/** ext2, ext3 and ext4 (extents, deep extent trees, htree, inline data, 64-bit, meta_bg, fast symlinks, holes). */
export class ExtDriver implements FsDriver<number> {
  readonly info: VolumeInfo
  private readonly inodes = new LruCache<number, ExtInode>(4096)

  private constructor(
    private readonly reader: VolumeReader,
    private readonly sb: ExtSuperblock,
  ) {
    this.info = {
      type: sb.type,
      label: sb.label,
      uuid: sb.uuid,
      size: sb.blocksCount * sb.blockSize,
      blockSize: sb.blockSize,
      caseInsensitive: false,
      warnings: sb.warnings,
    }
  }

  static async open(reader: VolumeReader, signal?: AbortSignal): Promise<ExtDriver> {
    const buf = await reader.meta(1024, 1024, 'ext superblock', signal)
    const sb = parseExtSuperblock(buf, reader.size, reader.label)
    const driver = new ExtDriver(reader, sb)
    await driver.inode(ROOT_INO, signal)
    return driver
  }

  root(): Promise<number> {
    return Promise.resolve(ROOT_INO)
  }
  key(node: number): string {
    return String(node)
  }

  async inode(ino: number, signal?: AbortSignal): Promise<ExtInode> {
    const cached = this.inodes.get(ino)
    if (cached) return cached
    const sb = this.sb
    if (ino < 1 || ino > sb.inodesCount) throw new FilesystemError('corrupt', `${this.reader.label}: inode number ${ino} is out of range`, { inode: ino })
    const group = Math.floor((ino - 1) / sb.inodesPerGroup)
    const index = (ino - 1) % sb.inodesPerGroup
    const perBlock = sb.blockSize / sb.descSize
    const descAt = descriptorBlock(sb, group) * sb.blockSize + (group % perBlock) * sb.descSize
    const desc = await this.reader.meta(descAt, sb.descSize, 'group descriptor', signal)
    const table = desc.readUInt32LE(8) + (sb.descSize >= 64 ? desc.readUInt32LE(40) * 2 ** 32 : 0)
    const raw = await this.reader.meta(table * sb.blockSize + index * sb.inodeSize, sb.inodeSize, `inode ${ino}`, signal)
    const inode = parseExtInode(raw, ino, sb, this.reader.label)
    this.inodes.set(ino, inode)
    return inode
  }

  /** Whole contents of a small object (directory, symlink): inline data or the runs, bounded. */
  private async contents(inode: ExtInode, limit: number, signal?: AbortSignal): Promise<Buffer> {
    if (inode.size > limit) throw new FilesystemError('too-large', `${this.reader.label}: inode ${inode.ino} is implausibly large (${inode.size} bytes)`, { inode: inode.ino })
    const parts: Buffer[] = []
    for await (const b of this.stream(inode, 0, inode.size, signal)) parts.push(b)
    return Buffer.concat(parts)
  }

  private stream(inode: ExtInode, start: number, end: number, signal?: AbortSignal): AsyncIterable<Buffer> {
    if (inode.flags & FLAG_INLINE_DATA) {
      const tail = findInodeXattr(inode.xattrs, XATTR_INDEX_SYSTEM, 'data') ?? Buffer.alloc(0)
      const all = Buffer.concat([inode.iBlock, tail])
      // Inline data lives entirely in the inode; a size beyond what it holds is damage, not a sparse tail.
      if (inode.size > all.length) {
        throw new FilesystemError('corrupt', `${this.reader.label}: inode ${inode.ino} claims ${inode.size} bytes of inline data but holds ${all.length}`, { inode: inode.ino })
      }
      return (async function* () {
        await Promise.resolve()
        if (end > start) yield Buffer.from(all.subarray(start, end))
      })()
    }
    return streamRuns(this.reader, inodeRuns(this.reader, inode, this.sb.blockSize, signal), start, end, signal)
  }

  async readDir(dir: number, signal?: AbortSignal): Promise<DriverDirent<number>[]> {
    const inode = await this.inode(dir, signal)
    if (inode.type !== 'directory') throw new FilesystemError('not-a-directory', `${this.reader.label}: inode ${dir} is not a directory`, { inode: dir })
    if (inode.flags & FLAG_ENCRYPT) throw new FilesystemError('unsupported', `${this.reader.label}: this directory is encrypted (fscrypt); encrypted folders cannot be browsed`)
    const hasFileType = (this.sb.incompat & INCOMPAT_FILETYPE) !== 0
    const out: ExtDirent[] = []
    if (inode.flags & FLAG_INLINE_DATA) {
      // Inline directories: 4 bytes of parent inode, then entries; the xattr tail continues the entries.
      parseDirBlock(inode.iBlock.subarray(4), hasFileType, this.reader.label, out)
      const tail = findInodeXattr(inode.xattrs, XATTR_INDEX_SYSTEM, 'data')
      if (tail && tail.length > 0) parseDirBlock(tail, hasFileType, this.reader.label, out)
    } else {
      const data = await this.contents(inode, MAX_DIR_BYTES, signal)
      const bs = this.sb.blockSize
      for (let at = 0; at + bs <= data.length; at += bs) parseDirBlock(data.subarray(at, at + bs), hasFileType, this.reader.label, out)
    }
    return out.map((e) => ({ name: e.name, node: e.ino }))
  }

  async describe(node: number, name: string, signal?: AbortSignal): Promise<FsEntry> {
    const i = await this.inode(node, signal)
    return posixEntry(name, String(node), { ...i, nlink: i.links, allocated: i.blocks512 * 512 }, i.type === 'symlink' ? await this.readlink(node, signal) : undefined)
  }

  async readlink(node: number, signal?: AbortSignal): Promise<string> {
    const i = await this.inode(node, signal)
    if (i.type !== 'symlink') throw new FilesystemError('not-a-symlink', `${this.reader.label}: inode ${node} is not a symbolic link`)
    if (i.size > 65536) throw new FilesystemError('corrupt', `${this.reader.label}: symlink inode ${node} is ${i.size} bytes long`)
    // An xattr block takes a whole cluster under bigalloc, and i_blocks counts all of it (as the kernel's
    // ext4_inode_is_fast_symlink subtracts it).
    const aclBlocks = i.fileAcl !== 0 ? this.sb.clusterSize / 512 : 0
    const fast = !(i.flags & (FLAG_EXTENTS | FLAG_INLINE_DATA)) && i.size < 60 && i.blocks512 - aclBlocks <= 0
    const bytes = fast ? i.iBlock.subarray(0, i.size) : (await this.contents(i, 65536, signal)).subarray(0, i.size)
    return bytes.toString('utf8')
  }

  async *read(node: number, options: ReadFileOptions): AsyncIterable<Buffer> {
    const i = await this.inode(node, options.signal)
    if (options.stream !== undefined) throw new FilesystemError('not-found', `${this.reader.label}: ext files have no named streams`)
    if (i.type === 'directory') throw new FilesystemError('is-a-directory', `${this.reader.label}: inode ${node} is a directory`)
    if (i.flags & FLAG_ENCRYPT) throw new FilesystemError('unsupported', `${this.reader.label}: this file is encrypted (fscrypt) and cannot be read`)
    if (i.type !== 'file' && i.type !== 'symlink') return
    const { start, end } = clampRange(i.size, options.start, options.end)
    yield* this.stream(i, start, end, options.signal)
  }

  async *readData(node: number, signal?: AbortSignal): AsyncIterable<DataPiece> {
    const i = await this.inode(node, signal)
    if (i.type !== 'file') throw new FilesystemError('is-a-directory', `${this.reader.label}: inode ${node} is not a regular file`)
    if (i.flags & FLAG_ENCRYPT) throw new FilesystemError('unsupported', `${this.reader.label}: this file is encrypted (fscrypt) and cannot be read`)
    if (i.flags & FLAG_INLINE_DATA) {
      let offset = 0
      for await (const data of this.stream(i, 0, i.size, signal)) {
        yield { offset, data }
        offset += data.length
      }
      return
    }
    yield* streamRunData(this.reader, inodeRuns(this.reader, i, this.sb.blockSize, signal), 0, i.size, signal)
  }

  close(): Promise<void> {
    this.inodes.clear()
    return Promise.resolve()
  }
}
