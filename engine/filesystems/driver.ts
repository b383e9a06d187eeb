import type { DataPiece, FsEntry, ReadFileOptions, VolumeInfo } from './types'

/** A directory entry as a driver sees it: the name plus an opaque handle to the object it names. */
export interface DriverDirent<N> {
  readonly name: string
  readonly node: N
}

/**
 * What each filesystem implements. The generic Volume (path walking, symlinks, search, limits) is built on
 * top, so drivers only decode their own structures.
 */
export interface FsDriver<N> {
  readonly info: VolumeInfo
  root(signal?: AbortSignal): Promise<N>
  /** Stable key of a node (inode number, MFT record, …) for caches and loop detection. */
  key(node: N): string
  /** Entries of a directory, without "." and "..". Throws 'not-a-directory' for other nodes. */
  readDir(dir: N, signal?: AbortSignal): Promise<DriverDirent<N>[]>
  describe(node: N, name: string, signal?: AbortSignal): Promise<FsEntry>
  readlink(node: N, signal?: AbortSignal): Promise<string>
  read(node: N, options: ReadFileOptions): AsyncIterable<Buffer>
  /** The file's data pieces, skipping holes without reading them; drivers that know no holes leave it out. */
  readData?(node: N, signal?: AbortSignal): AsyncIterable<DataPiece>
  close(): Promise<void>
}
