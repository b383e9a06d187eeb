import { LruCache } from '../../disks/lru-cache'
import { clampRange, streamRunData, streamRuns, type DataRun } from '../data-runs'
import type { DriverDirent, FsDriver } from '../driver'
import { FilesystemError } from '../errors'
import { posixEntry, type DataPiece, type FsEntry, type ReadFileOptions, type VolumeInfo } from '../types'
import type { VolumeReader } from '../volume-reader'
import { CHUNK_ITEM, ChunkMap, parseChunk, parseSysChunkArray } from './btrfs-chunks'
import { decompressExtent } from './btrfs-compress'
import { DIR_INDEX, DIR_ITEM, EXTENT_DATA, INODE_ITEM, ROOT_ITEM, ROOT_REF, parseDirItems, parseExtentData, parseInodeItem, parseRootItem, parseRootRef, type BtrfsInode, type FileExtent, type RootItem } from './btrfs-items'
import { SUPERBLOCK_OFFSET, parseBtrfsSuperblock, type BtrfsSuperblock } from './btrfs-superblock'
import { MAX_LEVEL, TreeReader, U64_MAX, type TreeRoot } from './btrfs-tree'
import { subvolumePath } from './btrfs-subvolumes'

/** A btrfs object: an inode number inside one subvolume's FS tree. */
export interface BtrfsNode {
  readonly tree: bigint
  readonly ino: bigint
  /**
   * A snapshot's stand-in for a subvolume that was nested in the snapshotted one (snapshots do not recurse): the
   * entry still names the subvolume, but no ROOT_REF links it here, so the kernel shows an empty folder (inode 2)
   * and so does this driver. The name of the entry makes the key unique.
   */
  readonly placeholder?: string
}

const FS_TREE = 5n
const ROOT_TREE_DIR = 6n
const FIRST_CHUNK_TREE = 256n
const ROOT_DIRID = 256n
const EMPTY_SUBVOL_DIR = 2n
const MAX_SYMLINK = 4096
/** btrfs never makes a data extent longer than 128 MiB: a read at X starts its search 128 MiB before X. */
const MAX_EXTENT = 128 * 1024 * 1024
/** Uncompressed runs handed to the bulk reader at a time, so a file of millions of extents is not held in memory. */
const RUN_BATCH = 1024

type Piece = { readonly kind: 'run'; readonly run: DataRun } | { readonly kind: 'data'; readonly logical: number; readonly data: Buffer }

/**
 * Single-device btrfs (SINGLE and DUP chunks): every subvolume, starting at the top-level one (5); a subvolume or
 * snapshot is a folder of its parent. Inline, regular, prealloc and hole extents, zlib / LZO / zstd compression,
 * symlinks and hard links; shared (reflinked, snapshotted) extents are just extents.
 */
export class BtrfsDriver implements FsDriver<BtrfsNode> {
  readonly info: VolumeInfo
  private readonly inodes = new LruCache<string, BtrfsInode>(4096)
  private readonly roots = new Map<bigint, TreeRoot & { readonly rootDirid: bigint }>()
  private readonly decompressed = new LruCache<string, Buffer>(16)

  private constructor(
    private readonly reader: VolumeReader,
    private readonly sb: BtrfsSuperblock,
    private readonly chunks: ChunkMap,
    readonly tree: TreeReader,
    readonly rootTree: TreeRoot,
    warnings: string[],
  ) {
    this.info = { type: 'btrfs', label: sb.label, uuid: sb.uuid, size: sb.totalBytes, blockSize: sb.sectorSize, caseInsensitive: false, warnings }
  }

  static async open(reader: VolumeReader, signal?: AbortSignal): Promise<BtrfsDriver> {
    const label = reader.label
    const sb = parseBtrfsSuperblock(await reader.meta(SUPERBLOCK_OFFSET, 4096, 'btrfs superblock', signal), label)
    const chunks = new ChunkMap(label)
    parseSysChunkArray(sb.sysChunkArray, sb.devid, label, chunks)
    const tree = new TreeReader(reader, sb, chunks)
    const chunkRoot = { bytenr: sb.chunkTree, level: sb.chunkLevel, generation: sb.chunkGeneration }
    for await (const item of tree.items(chunkRoot, { objectid: FIRST_CHUNK_TREE, type: CHUNK_ITEM, offset: 0n }, { objectid: FIRST_CHUNK_TREE, type: CHUNK_ITEM, offset: U64_MAX }, signal)) {
      if (item.key.offset > BigInt(Number.MAX_SAFE_INTEGER)) throw new FilesystemError('corrupt', `${label}: a btrfs chunk lies at an impossible address`)
      chunks.add(parseChunk(item.data, 0, item.data.length, Number(item.key.offset), sb.devid, label))
    }
    const rootTree = { bytenr: sb.rootTree, level: sb.rootLevel, generation: sb.generation }
    const warnings: string[] = []
    if (sb.logRoot !== 0) warnings.push('The filesystem was not cleanly unmounted: changes synced after its last commit (its log tree) are not shown.')
    const d = new BtrfsDriver(reader, sb, chunks, tree, rootTree, warnings)
    await d.inode({ tree: FS_TREE, ino: (await d.subvolumeRoot(FS_TREE, signal)).rootDirid }, signal)
    const def = await d.defaultSubvolume(signal)
    if (def !== FS_TREE) {
      const path = await subvolumePath(d, def, signal).catch(() => `id ${def}`)
      warnings.push(`The system mounts subvolume ${path} as its root; the browser starts at the top-level subvolume, where it is the folder ${path}.`)
    }
    return d
  }

  /** The subvolume the system mounts by default: the "default" entry of the root tree's directory, else 5. */
  async defaultSubvolume(signal?: AbortSignal): Promise<bigint> {
    for await (const item of this.tree.items(this.rootTree, { objectid: ROOT_TREE_DIR, type: DIR_ITEM, offset: 0n }, { objectid: ROOT_TREE_DIR, type: DIR_ITEM, offset: U64_MAX }, signal)) {
      for (const e of parseDirItems(item.data, this.reader.label)) if (e.name === 'default' && e.location.type === ROOT_ITEM) return e.location.objectid
    }
    return FS_TREE
  }

  async rootItem(id: bigint, signal?: AbortSignal): Promise<RootItem> {
    const item = await this.tree.first(this.rootTree, id, ROOT_ITEM, signal)
    if (!item) throw new FilesystemError('not-found', `${this.reader.label}: btrfs subvolume ${id} does not exist`, { subvolume: String(id) })
    const root = parseRootItem(item.data, `btrfs root item ${id}`, this.reader.label)
    if (root.level >= MAX_LEVEL) throw new FilesystemError('corrupt', `${this.reader.label}: btrfs subvolume ${id} has a root at level ${root.level}`)
    return root
  }

  async subvolumeRoot(id: bigint, signal?: AbortSignal): Promise<TreeRoot & { readonly rootDirid: bigint }> {
    const hit = this.roots.get(id)
    if (hit) return hit
    // Trees below 256 other than the top-level subvolume are the filesystem's own (extents, chunks, checksums…).
    if (id !== FS_TREE && (id < 256n || id > 2n ** 64n - 256n)) throw new FilesystemError('corrupt', `${this.reader.label}: a btrfs folder entry points at tree ${id}, which is not a subvolume`)
    const r = await this.rootItem(id, signal)
    const root = { bytenr: r.bytenr, level: r.level, generation: r.generation, rootDirid: r.rootDirid }
    this.roots.set(id, root)
    return root
  }

  root(signal?: AbortSignal): Promise<BtrfsNode> {
    return this.subvolumeRoot(FS_TREE, signal).then((r) => ({ tree: FS_TREE, ino: r.rootDirid }))
  }

  key(node: BtrfsNode): string {
    return node.placeholder === undefined ? `${node.tree}:${node.ino}` : `${node.tree}:${node.ino}:${node.placeholder}`
  }

  async inode(node: BtrfsNode, signal?: AbortSignal): Promise<BtrfsInode> {
    const k = this.key(node)
    const hit = this.inodes.get(k)
    if (hit) return hit
    if (node.placeholder !== undefined) {
      const epoch = new Date(0)
      return { type: 'directory', size: 0, nlink: 1, uid: 0, gid: 0, mode: 0o40755, atime: epoch, ctime: epoch, mtime: epoch }
    }
    const root = await this.subvolumeRoot(node.tree, signal)
    const data = await this.tree.find(root, { objectid: node.ino, type: INODE_ITEM, offset: 0n }, signal)
    if (!data) throw new FilesystemError('corrupt', `${this.reader.label}: btrfs inode ${node.ino} of subvolume ${node.tree} is missing`, { inode: String(node.ino) })
    const inode = parseInodeItem(data, `btrfs inode ${node.ino}`, this.reader.label)
    this.inodes.set(k, inode)
    return inode
  }

  async readDir(dir: BtrfsNode, signal?: AbortSignal): Promise<DriverDirent<BtrfsNode>[]> {
    const inode = await this.inode(dir, signal)
    if (inode.type !== 'directory') throw new FilesystemError('not-a-directory', `${this.reader.label}: btrfs inode ${dir.ino} is not a directory`)
    if (dir.placeholder !== undefined) return []
    const root = await this.subvolumeRoot(dir.tree, signal)
    const out: DriverDirent<BtrfsNode>[] = []
    for await (const item of this.tree.items(root, { objectid: dir.ino, type: DIR_INDEX, offset: 0n }, { objectid: dir.ino, type: DIR_INDEX, offset: U64_MAX }, signal)) {
      for (const e of parseDirItems(item.data, this.reader.label)) {
        // A subvolume (or snapshot) is a folder whose entry points at another tree; its top directory is always 256.
        if (e.location.type === ROOT_ITEM) {
          const linked = await this.linksSubvolume(dir, e.location.objectid, signal)
          out.push({ name: e.name, node: linked ? { tree: e.location.objectid, ino: ROOT_DIRID } : { tree: dir.tree, ino: EMPTY_SUBVOL_DIR, placeholder: e.name } })
        }
        else if (e.location.type === INODE_ITEM) out.push({ name: e.name, node: { tree: dir.tree, ino: e.location.objectid } })
      }
    }
    return out
  }

  /** Whether the root tree links subvolume `id` into directory `dir` (a ROOT_REF from dir's subvolume). */
  private async linksSubvolume(dir: BtrfsNode, id: bigint, signal?: AbortSignal): Promise<boolean> {
    const ref = await this.tree.find(this.rootTree, { objectid: dir.tree, type: ROOT_REF, offset: id }, signal)
    return ref !== undefined && parseRootRef(ref, `btrfs root ref ${dir.tree}→${id}`, this.reader.label).dirid === dir.ino
  }

  async describe(node: BtrfsNode, name: string, signal?: AbortSignal): Promise<FsEntry> {
    const i = await this.inode(node, signal)
    return posixEntry(name, this.key(node), i, i.type === 'symlink' ? await this.readlink(node, signal) : undefined)
  }

  async readlink(node: BtrfsNode, signal?: AbortSignal): Promise<string> {
    const i = await this.inode(node, signal)
    if (i.type !== 'symlink') throw new FilesystemError('not-a-symlink', `${this.reader.label}: btrfs inode ${node.ino} is not a symbolic link`)
    if (i.size > MAX_SYMLINK) throw new FilesystemError('corrupt', `${this.reader.label}: btrfs symlink ${node.ino} is ${i.size} bytes long`)
    const parts: Buffer[] = []
    for await (const b of this.stream(node, 0, i.size, signal)) parts.push(b)
    return Buffer.concat(parts).toString('utf8')
  }

  async *read(node: BtrfsNode, options: ReadFileOptions): AsyncIterable<Buffer> {
    const i = await this.inode(node, options.signal)
    if (options.stream !== undefined) throw new FilesystemError('not-found', `${this.reader.label}: btrfs files have no named streams`)
    if (i.type === 'directory') throw new FilesystemError('is-a-directory', `${this.reader.label}: btrfs inode ${node.ino} is a directory`)
    if (i.type !== 'file') return
    const { start, end } = clampRange(i.size, options.start, options.end)
    yield* this.stream(node, start, end, options.signal)
  }

  async *readData(node: BtrfsNode, signal?: AbortSignal): AsyncIterable<DataPiece> {
    const i = await this.inode(node, signal)
    if (i.type !== 'file') return
    let batch: DataRun[] = []
    let from = 0
    const flush = async function* (this: BtrfsDriver, upTo: number): AsyncIterable<DataPiece> {
      if (upTo > from) yield* streamRunData(this.reader, batch, from, upTo, signal)
      from = Math.max(from, upTo)
      batch = []
    }.bind(this)
    for await (const p of this.pieces(node, 0, i.size, signal)) {
      if (p.kind === 'run') {
        batch.push(p.run)
        if (batch.length >= RUN_BATCH) yield* flush(p.run.logical + p.run.length)
      } else {
        yield* flush(p.logical)
        yield { offset: p.logical, data: p.data }
        from = p.logical + p.data.length
      }
    }
    yield* flush(i.size)
  }

  /** Bytes [start, end) of a file or symlink; holes and gaps read as zeros. */
  private async *stream(node: BtrfsNode, start: number, end: number, signal?: AbortSignal): AsyncIterable<Buffer> {
    let batch: DataRun[] = []
    let from = start
    const flush = async function* (this: BtrfsDriver, upTo: number): AsyncIterable<Buffer> {
      if (upTo > from) yield* streamRuns(this.reader, batch, from, upTo, signal)
      from = Math.max(from, upTo)
      batch = []
    }.bind(this)
    for await (const p of this.pieces(node, start, end, signal)) {
      if (p.kind === 'run') {
        batch.push(p.run)
        if (batch.length >= RUN_BATCH) yield* flush(p.run.logical + p.run.length)
      } else {
        yield* flush(p.logical)
        yield p.data
        from = p.logical + p.data.length
      }
    }
    yield* flush(end)
  }

  /** The file's extents clipped to [start, end), in order and without overlaps: disk runs, or decompressed bytes. */
  private async *pieces(node: BtrfsNode, start: number, end: number, signal?: AbortSignal): AsyncIterable<Piece> {
    const root = await this.subvolumeRoot(node.tree, signal)
    const label = this.reader.label
    let pos = start
    const min = { objectid: node.ino, type: EXTENT_DATA, offset: BigInt(Math.max(0, start - MAX_EXTENT)) }
    for await (const item of this.tree.items(root, min, { objectid: node.ino, type: EXTENT_DATA, offset: U64_MAX }, signal)) {
      const what = `btrfs inode ${node.ino} extent at ${item.key.offset}`
      const e = parseExtentData(item.key, item.data, what, label)
      if (e.fileOffset >= end) return
      const length = extentLength(e)
      const lo = Math.max(pos, e.fileOffset)
      const hi = Math.min(end, e.fileOffset + length)
      if (hi <= lo) continue
      if (e.kind === 'prealloc' || (e.kind === 'regular' && e.diskBytenr === 0)) {
        yield { kind: 'run', run: { logical: lo, length: hi - lo, physical: null } }
      } else if (e.kind === 'regular' && e.compression === 0) {
        if (e.offset + e.numBytes > e.diskNumBytes) throw new FilesystemError('corrupt', `${label}: ${what} reaches past its disk extent`)
        const [physical] = this.chunks.map(e.diskBytenr + e.offset, e.numBytes, what)
        if (physical === undefined) throw new FilesystemError('corrupt', `${label}: ${what} has no copy`)
        yield { kind: 'run', run: { logical: lo, length: hi - lo, physical: physical + (lo - e.fileOffset) } }
      } else {
        const full = await this.extentBytes(e, what, signal)
        const skip = e.kind === 'regular' ? e.offset : 0
        if (skip + length > full.length) throw new FilesystemError('corrupt', `${label}: ${what} reaches past its decompressed data`)
        yield { kind: 'data', logical: lo, data: full.subarray(skip + (lo - e.fileOffset), skip + (hi - e.fileOffset)) }
      }
      pos = hi
    }
  }

  /** An inline or compressed extent's whole decompressed contents (cached: ranged reads reuse them). */
  private async extentBytes(e: FileExtent, what: string, signal?: AbortSignal): Promise<Buffer> {
    if (e.kind === 'inline') return decompressExtent(e.compression, e.data, e.ramBytes, this.sb.sectorSize, what, this.reader.label)
    const k = `${e.diskBytenr}:${e.diskNumBytes}:${e.compression}`
    const hit = this.decompressed.get(k)
    if (hit) return hit
    const [physical] = this.chunks.map(e.diskBytenr, e.diskNumBytes, what)
    if (physical === undefined) throw new FilesystemError('corrupt', `${this.reader.label}: ${what} has no copy`)
    if (e.diskNumBytes > 128 * 1024) throw new FilesystemError('corrupt', `${this.reader.label}: ${what} claims ${e.diskNumBytes} compressed bytes (btrfs stores at most 128 KiB)`)
    const raw = await this.reader.data(physical, e.diskNumBytes, what, signal)
    const out = decompressExtent(e.compression, raw, e.ramBytes, this.sb.sectorSize, what, this.reader.label)
    this.decompressed.set(k, out)
    return out
  }

  close(): Promise<void> {
    this.inodes.clear()
    this.decompressed.clear()
    this.tree.clear()
    return Promise.resolve()
  }
}

function extentLength(e: FileExtent): number {
  if (e.kind !== 'inline') return e.numBytes
  return e.compression === 0 ? e.data.length : e.ramBytes
}
