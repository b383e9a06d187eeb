import { LruCache } from '../../disks/lru-cache'
import { clampRange } from '../data-runs'
import type { DriverDirent, FsDriver } from '../driver'
import { FilesystemError } from '../errors'
import type { DataPiece, FsEntry, ReadFileOptions, VolumeInfo } from '../types'
import type { VolumeReader } from '../volume-reader'
import { parseNtfsBoot, type NtfsBoot } from './ntfs-boot'
import { attrAllocated, attrData, streamAttr } from './ntfs-data'
import { loadFile, type NtfsFile } from './ntfs-file'
import { parseIndexBlock, parseIndexEntries, type NtfsIndexEntry } from './ntfs-index'
import { ATTR_DATA, ATTR_FILE_NAME, ATTR_INDEX_ALLOCATION, ATTR_INDEX_ROOT, ATTR_REPARSE_POINT, ATTR_STANDARD_INFORMATION, ntfsTime, parseRecord, type NtfsAttr } from './ntfs-record'
import { reparseTarget } from './ntfs-reparse'

const ROOT = 5
const VOLUME = 3
const MAX_INDEX_NODES = 1_000_000
const NAMESPACE_DOS = 2

/** NTFS: MFT (with fixups and attribute lists), directory indexes, resident/non-resident/sparse/compressed data, ADS. */
export class NtfsDriver implements FsDriver<number> {
  info: VolumeInfo
  private readonly files = new LruCache<number, NtfsFile>(2048)
  private mft: NtfsAttr | undefined

  private constructor(
    private readonly reader: VolumeReader,
    private readonly boot: NtfsBoot,
  ) {
    this.info = { type: 'ntfs', label: '', uuid: boot.serial, size: boot.totalBytes, blockSize: boot.clusterSize, caseInsensitive: true, warnings: [] }
  }

  static async open(reader: VolumeReader, signal?: AbortSignal): Promise<NtfsDriver> {
    const boot = parseNtfsBoot(await reader.meta(0, 512, 'NTFS boot sector', signal), reader.label)
    const d = new NtfsDriver(reader, boot)
    // Bootstrap: record 0 ($MFT) is read at the boot sector's address; its $DATA then maps every other record.
    const rec0 = parseRecord(await reader.meta(boot.mftOffset, boot.recordSize, 'MFT record 0', signal), reader.label, 0)
    d.mft = rec0.attrs.find((a) => a.type === ATTR_DATA && a.name === '' && !a.resident)
    if (!d.mft) throw new FilesystemError('corrupt', `${reader.label}: the MFT has no data attribute`)
    const full = await d.file(0, signal)
    d.mft = full.attrs.find((a) => a.type === ATTR_DATA && a.name === '') ?? d.mft
    const vol = await d.file(VOLUME, signal).catch(() => undefined)
    const nameAttr = vol?.attrs.find((a) => a.type === 0x60)
    const label = nameAttr ? nameAttr.value.toString('utf16le') : ''
    d.info = { ...d.info, label }
    await d.file(ROOT, signal)
    return d
  }

  root(): Promise<number> {
    return Promise.resolve(ROOT)
  }
  key(node: number): string {
    return String(node)
  }

  private async loadRecord(n: number, signal?: AbortSignal): Promise<Buffer> {
    const mft = this.mft
    if (!mft) throw new FilesystemError('corrupt', `${this.reader.label}: MFT not loaded`)
    const rs = this.boot.recordSize
    const at = n * rs
    if (!Number.isSafeInteger(at) || at + rs > mft.realSize) throw new FilesystemError('corrupt', `${this.reader.label}: MFT record ${n} does not exist`, { record: n })
    const cs = this.boot.clusterSize
    const parts: Buffer[] = []
    let pos = at
    while (pos < at + rs) {
      const vcn = Math.floor(pos / cs)
      const run = mft.runs.find((r) => vcn >= r.vcn && vcn < r.vcn + r.clusters)
      if (!run || run.lcn === null) throw new FilesystemError('corrupt', `${this.reader.label}: MFT record ${n} is not mapped`)
      const inRun = pos - run.vcn * cs
      const n2 = Math.min(at + rs - pos, run.clusters * cs - inRun)
      parts.push(await this.reader.meta(run.lcn * cs + inRun, n2, `MFT record ${n}`, signal))
      pos += n2
    }
    return Buffer.concat(parts)
  }

  async file(n: number, signal?: AbortSignal): Promise<NtfsFile> {
    const hit = this.files.get(n)
    if (hit) return hit
    const f = await loadFile(n, (r) => this.loadRecord(r, signal), (a) => this.attrBytes(a, 16 * 1024 * 1024, signal), this.reader.label)
    this.files.set(n, f)
    return f
  }

  private async attrBytes(a: NtfsAttr, limit: number, signal?: AbortSignal): Promise<Buffer> {
    if (a.realSize > limit) throw new FilesystemError('too-large', `${this.reader.label}: an attribute of ${a.realSize} bytes is implausibly large`)
    const parts: Buffer[] = []
    for await (const b of streamAttr(this.reader, a, this.boot.clusterSize, 0, a.realSize, signal)) parts.push(b)
    return Buffer.concat(parts)
  }

  async readDir(dir: number, signal?: AbortSignal): Promise<DriverDirent<number>[]> {
    const f = await this.file(dir, signal)
    const root = f.attrs.find((a) => a.type === ATTR_INDEX_ROOT && a.name === '$I30')
    if (!f.isDirectory || !root) throw new FilesystemError('not-a-directory', `${this.reader.label}: MFT record ${dir} is not a directory`)
    const entries: NtfsIndexEntry[] = []
    const pending = parseIndexEntries(root.value, 16, this.reader.label, entries)
    if (pending.length > 0) {
      const alloc = f.attrs.find((a) => a.type === ATTR_INDEX_ALLOCATION && a.name === '$I30')
      if (!alloc) throw new FilesystemError('corrupt', `${this.reader.label}: directory ${dir} has index sub-nodes but no index allocation`)
      const blockSize = root.value.length >= 12 ? root.value.readUInt32LE(8) : 0
      if (blockSize < 512 || blockSize > 65536) throw new FilesystemError('corrupt', `${this.reader.label}: directory ${dir} has an invalid index block size`)
      const vcnUnit = blockSize >= this.boot.clusterSize ? this.boot.clusterSize : 512
      const seen = new Set<number>()
      while (pending.length > 0) {
        signal?.throwIfAborted()
        const vcn = pending.pop() ?? 0
        if (seen.has(vcn)) throw new FilesystemError('loop', `${this.reader.label}: directory ${dir} index visits block ${vcn} twice`)
        seen.add(vcn)
        if (seen.size > MAX_INDEX_NODES) throw new FilesystemError('too-large', `${this.reader.label}: directory ${dir} index is implausibly large`)
        const parts: Buffer[] = []
        const start = vcn * vcnUnit
        if (start + blockSize > alloc.realSize) throw new FilesystemError('corrupt', `${this.reader.label}: directory ${dir} index points past its allocation`)
        for await (const b of streamAttr(this.reader, alloc, this.boot.clusterSize, start, start + blockSize, signal)) parts.push(b)
        pending.push(...parseIndexBlock(Buffer.concat(parts), this.reader.label, entries))
      }
    }
    const out: DriverDirent<number>[] = []
    for (const e of entries) {
      if (e.namespace === NAMESPACE_DOS) continue
      if (dir === ROOT && e.record < 24 && e.name.startsWith('$')) continue
      if (e.record === dir) continue
      out.push({ name: e.name, node: e.record })
    }
    return out
  }

  async describe(node: number, name: string, signal?: AbortSignal): Promise<FsEntry> {
    const f = await this.file(node, signal)
    const si = f.attrs.find((a) => a.type === ATTR_STANDARD_INFORMATION)
    const data = f.attrs.find((a) => a.type === ATTR_DATA && a.name === '')
    const streams = f.attrs.filter((a) => a.type === ATTR_DATA && a.name !== '').map((a) => ({ name: a.name, size: a.realSize }))
    const fn = f.attrs.find((a) => a.type === ATTR_FILE_NAME)
    const siv = si?.value ?? Buffer.alloc(0)
    const attributes = siv.length >= 36 ? siv.readUInt32LE(32) : fn && fn.value.length >= 60 ? fn.value.readUInt32LE(56) : 0
    const target = await this.linkTarget(f, attributes, signal)
    const times = {
      ...(ntfsTime(siv, 0) ? { birthtime: ntfsTime(siv, 0) } : {}),
      ...(ntfsTime(siv, 8) ? { mtime: ntfsTime(siv, 8) } : {}),
      ...(ntfsTime(siv, 16) ? { ctime: ntfsTime(siv, 16) } : {}),
      ...(ntfsTime(siv, 24) ? { atime: ntfsTime(siv, 24) } : {}),
    }
    return {
      name,
      type: target !== undefined ? 'symlink' : f.isDirectory ? 'directory' : 'file',
      size: f.isDirectory && target === undefined ? 0 : (data?.realSize ?? 0),
      ...times,
      attributes,
      ...(target !== undefined ? { symlinkTarget: target } : {}),
      ...(streams.length > 0 ? { streams } : {}),
      id: String(node),
      ...(data && !f.isDirectory && target === undefined ? { allocated: attrAllocated(data, this.boot.clusterSize) } : {}),
    }
  }

  /**
   * Windows symlinks and junctions are reparse points; ntfs-3g (Linux) writes Interix symlinks instead: a small
   * file with the System attribute whose data is "IntxLNK\1" and the UTF-16 target.
   */
  private async linkTarget(f: NtfsFile, attributes: number, signal?: AbortSignal): Promise<string | undefined> {
    const reparse = f.attrs.find((a) => a.type === ATTR_REPARSE_POINT)
    if (reparse) return reparseTarget(reparse.value)
    const data = f.attrs.find((a) => a.type === ATTR_DATA && a.name === '')
    if (f.isDirectory || !(attributes & 0x4) || !data || data.realSize < 10 || data.realSize > 4096) return undefined
    const bytes = await this.attrBytes(data, 4096, signal)
    if (bytes.toString('latin1', 0, 8) !== 'IntxLNK\x01') return undefined
    return bytes.toString('utf16le', 8, bytes.length - ((bytes.length - 8) % 2))
  }

  async readlink(node: number, signal?: AbortSignal): Promise<string> {
    const f = await this.file(node, signal)
    const si = f.attrs.find((a) => a.type === ATTR_STANDARD_INFORMATION)
    const target = await this.linkTarget(f, si && si.value.length >= 36 ? si.value.readUInt32LE(32) : 0, signal)
    if (target === undefined) throw new FilesystemError('not-a-symlink', `${this.reader.label}: MFT record ${node} is not a symbolic link`)
    return target
  }

  async *read(node: number, options: ReadFileOptions): AsyncIterable<Buffer> {
    const f = await this.file(node, options.signal)
    const stream = options.stream ?? ''
    const data = f.attrs.find((a) => a.type === ATTR_DATA && a.name === stream)
    if (!data) {
      if (f.isDirectory && stream === '') throw new FilesystemError('is-a-directory', `${this.reader.label}: MFT record ${node} is a directory`)
      throw new FilesystemError('not-found', `${this.reader.label}: no data stream "${stream}" in MFT record ${node}`, { stream })
    }
    const { start, end } = clampRange(data.realSize, options.start, options.end)
    yield* streamAttr(this.reader, data, this.boot.clusterSize, start, end, options.signal)
  }

  async *readData(node: number, signal?: AbortSignal): AsyncIterable<DataPiece> {
    const f = await this.file(node, signal)
    const data = f.attrs.find((a) => a.type === ATTR_DATA && a.name === '')
    if (!data) {
      if (f.isDirectory) throw new FilesystemError('is-a-directory', `${this.reader.label}: MFT record ${node} is a directory`)
      return
    }
    yield* attrData(this.reader, data, this.boot.clusterSize, signal)
  }

  close(): Promise<void> {
    this.files.clear()
    return Promise.resolve()
  }
}
