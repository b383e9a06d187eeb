/** What every filesystem reader returns: plain, serialisable data (it crosses the contract as JSON). */
export type EntryType = 'file' | 'directory' | 'symlink' | 'block-device' | 'char-device' | 'fifo' | 'socket' | 'other'

export type FilesystemType = 'ext2' | 'ext3' | 'ext4' | 'xfs' | 'ntfs' | 'fat12' | 'fat16' | 'fat32'

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
    ...(symlinkTarget !== undefined ? { symlinkTarget } : {}),
  }
}
