import { clampRange, streamRuns, type DataRun } from '../data-runs'
import type { DriverDirent, FsDriver } from '../driver'
import { FilesystemError } from '../errors'
import type { FsEntry, ReadFileOptions, VolumeInfo } from '../types'
import type { VolumeReader } from '../volume-reader'
import { parseFatBoot, type FatGeometry } from './fat-boot'
import { ATTR_DIRECTORY, findVolumeLabel, parseFatDir, type FatDirent } from './fat-dir'

/** A FAT node is the root or the directory entry that describes the object (FAT keeps no inodes). */
type FatNode = { readonly root: true } | { readonly root: false; readonly dirent: FatDirent; readonly key: string }

const MAX_DIR_BYTES = 64 * 1024 * 1024

export class FatDriver implements FsDriver<FatNode> {
  readonly info: VolumeInfo

  private constructor(
    private readonly reader: VolumeReader,
    private readonly g: FatGeometry,
    label: string,
  ) {
    this.info = { type: g.type, label, uuid: g.serial, size: g.totalBytes, blockSize: g.clusterSize, caseInsensitive: true, warnings: [] }
  }

  static async open(reader: VolumeReader, signal?: AbortSignal): Promise<FatDriver> {
    const g = parseFatBoot(await reader.meta(0, 512, 'FAT boot sector', signal), reader.label)
    const probe = new FatDriver(reader, g, '')
    // The label is the root directory's volume entry only, as Windows, blkid and fatlabel read it: the boot
    // sector's copy stays behind when Windows erases a label, and old dosfslabel wrote only that copy.
    const label = findVolumeLabel(await probe.rootBytes(signal)) ?? ''
    return new FatDriver(reader, g, label)
  }

  root(): Promise<FatNode> {
    return Promise.resolve({ root: true })
  }
  key(node: FatNode): string {
    return node.root ? 'root' : node.key
  }

  private async entry(cluster: number, signal?: AbortSignal): Promise<number> {
    const g = this.g
    if (g.type === 'fat32') return (await this.reader.meta(g.fatOffset + cluster * 4, 4, 'FAT', signal)).readUInt32LE(0) & 0x0fffffff
    if (g.type === 'fat16') return (await this.reader.meta(g.fatOffset + cluster * 2, 2, 'FAT', signal)).readUInt16LE(0)
    const at = g.fatOffset + Math.floor((cluster * 3) / 2)
    const two = (await this.reader.meta(at, 2, 'FAT', signal)).readUInt16LE(0)
    return cluster & 1 ? two >> 4 : two & 0xfff
  }

  /** The cluster chain from `first`, as runs of contiguous clusters. Bounded: a chain longer than the FAT is a loop. */
  private async *chain(first: number, maxBytes: number, signal?: AbortSignal): AsyncIterable<DataRun> {
    const g = this.g
    const eoc = g.type === 'fat12' ? 0xff8 : g.type === 'fat16' ? 0xfff8 : 0x0ffffff8
    let cluster = first
    let logical = 0
    let runStart = -1
    let runLen = 0
    let steps = 0
    while (cluster >= 2 && cluster < eoc && logical + runLen * g.clusterSize < maxBytes) {
      if (cluster >= g.clusterCount + 2) throw new FilesystemError('corrupt', `${this.reader.label}: a cluster chain points to cluster ${cluster}, beyond the end of the FAT`)
      if (++steps > g.clusterCount + 1) throw new FilesystemError('loop', `${this.reader.label}: a cluster chain loops back on itself`)
      if ((steps & 0xfff) === 0) signal?.throwIfAborted()
      if (runStart >= 0 && cluster === runStart + runLen) runLen++
      else {
        if (runStart >= 0) {
          yield { logical, length: runLen * g.clusterSize, physical: g.dataOffset + (runStart - 2) * g.clusterSize }
          logical += runLen * g.clusterSize
        }
        runStart = cluster
        runLen = 1
      }
      cluster = await this.entry(cluster, signal)
    }
    if (runStart >= 0) yield { logical, length: runLen * g.clusterSize, physical: g.dataOffset + (runStart - 2) * g.clusterSize }
  }

  private async rootBytes(signal?: AbortSignal): Promise<Buffer> {
    if (this.g.type !== 'fat32') return this.reader.meta(this.g.rootDirOffset, this.g.rootDirBytes, 'FAT root directory', signal)
    return this.dirBytes(this.g.rootCluster, signal)
  }

  private async dirBytes(first: number, signal?: AbortSignal): Promise<Buffer> {
    const parts: Buffer[] = []
    let total = 0
    for await (const run of this.chain(first, MAX_DIR_BYTES, signal)) {
      if (run.physical === null) continue
      parts.push(await this.reader.meta(run.physical, run.length, 'FAT directory', signal))
      total += run.length
      if (total >= MAX_DIR_BYTES) throw new FilesystemError('too-large', `${this.reader.label}: a directory is implausibly large`)
    }
    return Buffer.concat(parts)
  }

  private clusterOf(d: FatDirent): number {
    return this.g.type === 'fat32' ? d.firstCluster & 0x0fffffff : d.firstCluster & 0xffff
  }

  async readDir(dir: FatNode, signal?: AbortSignal): Promise<DriverDirent<FatNode>[]> {
    if (!dir.root && !(dir.dirent.attr & ATTR_DIRECTORY)) throw new FilesystemError('not-a-directory', `${this.reader.label}: ${dir.dirent.name} is not a directory`)
    const bytes = dir.root ? await this.rootBytes(signal) : await this.dirBytes(this.clusterOf(dir.dirent), signal)
    const entries: FatDirent[] = []
    parseFatDir(bytes, entries)
    const parentKey = this.key(dir)
    return entries.map((d, i) => ({
      name: d.name,
      node: { root: false, dirent: d, key: d.attr & ATTR_DIRECTORY && this.clusterOf(d) >= 2 ? `c${this.clusterOf(d)}` : `${parentKey}/${i}` },
    }))
  }

  describe(node: FatNode, name: string): Promise<FsEntry> {
    if (node.root) return Promise.resolve({ name, type: 'directory', size: 0, attributes: ATTR_DIRECTORY, id: 'root' })
    const d = node.dirent
    const isDir = (d.attr & ATTR_DIRECTORY) !== 0
    return Promise.resolve({
      name,
      type: isDir ? 'directory' : 'file',
      size: isDir ? 0 : d.size,
      ...(d.mtime ? { mtime: d.mtime } : {}),
      ...(d.ctime ? { birthtime: d.ctime } : {}),
      ...(d.atime ? { atime: d.atime } : {}),
      attributes: d.attr,
      id: node.key,
    })
  }

  readlink(): Promise<string> {
    return Promise.reject(new FilesystemError('not-a-symlink', `${this.reader.label}: FAT has no symbolic links`))
  }

  async *read(node: FatNode, options: ReadFileOptions): AsyncIterable<Buffer> {
    if (node.root || node.dirent.attr & ATTR_DIRECTORY) throw new FilesystemError('is-a-directory', `${this.reader.label}: not a file`)
    if (options.stream !== undefined) throw new FilesystemError('not-found', `${this.reader.label}: FAT files have no named streams`)
    const d = node.dirent
    const { start, end } = clampRange(d.size, options.start, options.end)
    if (end <= start) return
    const cluster = this.clusterOf(d)
    const runs = this.chain(cluster, d.size, options.signal)
    // A chain shorter than the size is damage; reading past it would silently return zeros, so check as we go.
    let covered = 0
    const checked = async function* (label: string): AsyncIterable<DataRun> {
      for await (const r of runs) {
        covered = r.logical + r.length
        yield r
      }
      if (covered < end) throw new FilesystemError('corrupt', `${label}: ${d.name} is ${d.size} bytes but its cluster chain holds only ${covered}`)
    }
    yield* streamRuns(this.reader, checked(this.reader.label), start, end, options.signal)
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}
