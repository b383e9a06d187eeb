/** What every filesystem reader returns: plain, serialisable data (it crosses the contract as JSON). */
export type EntryType = 'file' | 'directory' | 'symlink' | 'block-device' | 'char-device' | 'fifo' | 'socket' | 'other'

export type FilesystemType = 'ext2' | 'ext3' | 'ext4' | 'xfs' | 'btrfs' | 'ntfs' | 'fat12' | 'fat16' | 'fat32'

export interface FsEntry {
  readonly name: string
  readonly type: EntryType
  /** Bytes of the main data stream (for a symlink: the target's length). */
  readonly size: number
  readonly mtime?: Date
  readonly atime?: Date
  readonly ctime?: Date
  readonly birthtime?: Date
  /** Permission bits (0o7777) on POSIX filesystems. */
  readonly mode?: number
  readonly uid?: number
  readonly gid?: number
  readonly nlink?: number
  /** NTFS/FAT attribute bits (read-only 0x1, hidden 0x2, system 0x4, archive 0x20, compressed 0x800, …). */
  readonly attributes?: number
  readonly symlinkTarget?: string
  /** Named NTFS data streams ("alternate data streams"); read one with readFile(path, { stream }). */
  readonly streams?: readonly { readonly name: string; readonly size: number }[]
  /** Inode number, MFT record or first cluster: identifies hard links and breaks directory loops. */
  readonly id: string
  /**
   * Bytes the data takes on the guest's disk where the filesystem records it (holes of sparse files excluded);
   * absent where unknown. A hostile image can lie here: writers still count what they actually write.
   */
  readonly allocated?: number
}

/**
 * One object of a volume, as a handle: walks go from handle to handle, so a name holding '/' or '\\' is never
 * re-split into a path, and `key` (the driver's key: inode, MFT record, …) recognises hard links and loops.
 */
export interface FsNode {
  readonly entry: FsEntry
  readonly key: string
}

/** A stretch of file data at byte `offset`; bytes no piece covers are holes (zeros). */
export interface DataPiece {
  readonly offset: number
  readonly data: Buffer
}

export interface ReadFileOptions {
  /** First byte to read (default 0). */
  readonly start?: number
  /** Byte after the last one to read (default: end of file). */
  readonly end?: number
  /** A named NTFS data stream instead of the main one. */
  readonly stream?: string
  readonly signal?: AbortSignal
}

export interface ChildrenOptions {
  readonly signal?: AbortSignal
  readonly onUnreadable?: (name: string, reason: string) => void
}

export interface VolumeInfo {
  readonly type: FilesystemType
  readonly label: string
  readonly uuid: string
  /** Bytes the filesystem spans. */
  readonly size: number
  readonly blockSize: number
  /** Names compare case-insensitively (NTFS, FAT). */
  readonly caseInsensitive: boolean
  /** Things the user should know ("journal needs recovery: recent changes may be missing"). */
  readonly warnings: readonly string[]
}

export interface SearchLimits {
  readonly maxResults?: number
  readonly maxDepth?: number
  readonly maxVisited?: number
  readonly signal?: AbortSignal
  /** Told about folders the search did not enter (directory loops, too deep, unreadable). */
  readonly onProblem?: (problem: { readonly path: string; readonly reason: string }) => void
}

export interface SearchHit {
  readonly path: string
  readonly entry: FsEntry
}

/** A mounted-in-userspace filesystem. Paths are '/'-separated from the volume root. */
export interface Volume {
  readonly info: VolumeInfo
  list(path: string, options?: { signal?: AbortSignal }): Promise<FsEntry[]>
  /** Like lstat: a symlink is described, not followed (intermediate symlinks in the path are followed). */
  stat(path: string, options?: { signal?: AbortSignal }): Promise<FsEntry>
  readlink(path: string, options?: { signal?: AbortSignal }): Promise<string>
  /** Streams the bytes of a file, reading only the requested range. */
  readFile(path: string, options?: ReadFileOptions): AsyncIterable<Buffer>
  /** Walks below `root` for names matching a glob (`*.docx`, `report-??.pdf`) or a RegExp, within limits. */
  search(root: string, pattern: string | RegExp, limits?: SearchLimits): AsyncIterable<SearchHit>
  /** The object at `path` as a handle (like lstat: a final symlink is not followed). */
  node(path: string, options?: { signal?: AbortSignal }): Promise<FsNode>
  /**
   * Entries of a directory handle, as handles. With `onUnreadable`, an entry that cannot be described (a damaged
   * inode, a symlink of absurd length) is reported by name and left out, and the others are still returned; without
   * it such an entry fails the whole listing.
   */
  children(dir: FsNode, options?: ChildrenOptions): Promise<FsNode[]>
  /** Streams the bytes of a file handle, like readFile. */
  readNode(node: FsNode, options?: ReadFileOptions): AsyncIterable<Buffer>
  /**
   * A file's data without its holes, in ascending order, where the filesystem says where the data is (ext extents
   * and block maps, XFS extents, NTFS runs); otherwise all of it. Holes are never read, so a 16 TiB sparse file costs
   * what it stores.
   */
  readData(node: FsNode, options?: { signal?: AbortSignal }): AsyncIterable<DataPiece>
  close(): Promise<void>
}

/** What a POSIX inode (ext*, XFS) says about itself, as the entry needs it. */
export interface PosixInodeFacts {
  readonly type: EntryType
  readonly size: number
  readonly mtime: Date
  readonly atime: Date
  readonly ctime: Date
  readonly crtime?: Date
  readonly mode: number
  readonly uid: number
  readonly gid: number
  readonly nlink: number
  /** Bytes allocated to the inode (data, holes excluded), where the inode records it. */
  readonly allocated?: number
}

/** The entry of a POSIX inode; a directory's size is 0 (its blocks are no file content). */
export function posixEntry(name: string, id: string, i: PosixInodeFacts, symlinkTarget?: string): FsEntry {
  return {
    name,
    type: i.type,
    size: i.type === 'directory' ? 0 : i.size,
    mtime: i.mtime,
    atime: i.atime,
    ctime: i.ctime,
    ...(i.crtime ? { birthtime: i.crtime } : {}),
    mode: i.mode & 0o7777,
    uid: i.uid,
    gid: i.gid,
    nlink: i.nlink,
    id,
    ...(i.type === 'file' && i.allocated !== undefined ? { allocated: i.allocated } : {}),
    ...(symlinkTarget !== undefined ? { symlinkTarget } : {}),
  }
}
