import path from 'node:path'
import { ApiError } from '../api/contract-errors'
import type { DiskSourceRef, DiskTreeDto, FsEntryDto } from '../api/contract-files'
import { openImage, type OpenedImage } from '../filesystems/browse'
import { FilesystemError } from '../filesystems/errors'
import { splitPath } from '../filesystems/generic-volume'
import { extractTo } from '../filesystems/ops/extract'
import { checkFreeSpace, formatBytes, type StatfsFn } from '../filesystems/ops/free-space'
import { measureTree, type RestorePlan } from '../filesystems/ops/measure'
import type { Volume } from '../filesystems/types'
import type { BlockSource } from '../disks/block-source'
import type { JobRunner } from '../jobs/job-runner'
import type { Repositories } from '../repository-access/repositories'
import type { HostAccessDeps } from '../inventory/host-access'
import { openLiveSnapshot } from './live-snapshot'
import type { JobRetry } from '../api/contract-jobs'
import { compareEntries, toEntryDto, toTreeDto } from './dto'
import { LISTED_IN_JOB, RestoreOutcomes, notRestoredCountLine, notRestoredLine, renamedLine, type RestoreOutcome } from './restore-outcome'

interface OpenSource {
  readonly image: OpenedImage
  readonly volumes: Map<string, Promise<Volume>>
  users: number
  lastUsed: number
}

export interface BrowseServiceOptions {
  readonly jobs: JobRunner
  readonly repositories: Repositories
  /** Saved hosts, for browsing live snapshots on them. */
  readonly hosts?: HostAccessDeps
  /** Close an opened source after this long unused (browsing clicks come in bursts). */
  readonly idleMs?: number
  readonly maxOpen?: number
  /** How restores ask the target folder for its free space (tests inject an answer); fs.statfs by default. */
  readonly statfs?: StatfsFn
}

/**
 * Browsing disks for the contract: opens a source (a disk image file, a disk of a restore point, or a live
 * snapshot on a saved host), keeps it open while the admin clicks around, and closes it when idle. Everything read is hostile
 * input; the layers below bound and check it, this layer bounds what goes over the wire.
 */
export class BrowseService {
  private readonly open = new Map<string, Promise<OpenSource>>()
  private readonly outcomes = new RestoreOutcomes()
  private readonly timer: NodeJS.Timeout

  constructor(private readonly options: BrowseServiceOptions) {
    this.timer = setInterval(() => void this.evictIdle(), 10_000)
    this.timer.unref()
  }

  async probe(ref: DiskSourceRef, signal?: AbortSignal): Promise<DiskTreeDto> {
    return await this.use(ref, signal, (src) => Promise.resolve(toTreeDto(src.image.tree, src.image.images)))
  }

  async list(ref: DiskSourceRef, locator: string | undefined, dir: string, offset: number, limit: number, signal?: AbortSignal) {
    return await this.withVolume(ref, locator, signal, async (volume) => {
      const entries = (await volume.list(dir, signal ? { signal } : {})).sort(compareEntries)
      return { path: dir, entries: entries.slice(offset, offset + limit).map(toEntryDto), total: entries.length }
    })
  }

  async stat(ref: DiskSourceRef, locator: string | undefined, file: string, signal?: AbortSignal): Promise<FsEntryDto> {
    return await this.withVolume(ref, locator, signal, async (volume) => toEntryDto(await volume.stat(file, signal ? { signal } : {})))
  }

  async search(ref: DiskSourceRef, locator: string | undefined, root: string, pattern: string, limit: number, signal?: AbortSignal) {
    return await this.withVolume(ref, locator, signal, async (volume) => {
      const hits: { path: string; entry: FsEntryDto }[] = []
      let truncated = false
      try {
        for await (const hit of volume.search(root, pattern, { maxResults: limit + 1, ...(signal ? { signal } : {}) })) {
          if (hits.length >= limit) {
            truncated = true
            break
          }
          hits.push({ path: hit.path, entry: toEntryDto(hit.entry) })
        }
      } catch (err) {
        if (!(err instanceof FilesystemError && err.code === 'limit')) throw err
        truncated = true
      }
      return { hits, truncated }
    })
  }

  /** Streams one file (the CLI's `cat`, downloads). */
  async *readFile(ref: DiskSourceRef, locator: string | undefined, file: string, signal?: AbortSignal, stream?: string): AsyncIterable<Buffer> {
    const src = await this.acquire(ref, signal)
    try {
      const volume = await this.volume(src, locator, signal)
      yield* volume.readFile(file, { ...(signal ? { signal } : {}), ...(stream !== undefined ? { stream } : {}) })
    } finally {
      this.releaseSource(src)
    }
  }

  /**
   * What a finished restore job left out or renamed, in full (its job record keeps only the first items), once, while
   * this process still has it in memory; undefined for an unknown or old job, or when it was taken already.
   */
  takeRestoreOutcome(jobId: string): RestoreOutcome | undefined {
    return this.outcomes.take(jobId)
  }

  /** Starts a restore job: each path is copied with its name into `toDirectory`. */
  restore(ref: DiskSourceRef, locator: string | undefined, paths: readonly string[], toDirectory: string, retry?: JobRetry, extra: { streams?: boolean } = {}): { jobId: string; done: Promise<unknown> } {
    if (!path.isAbsolute(toDirectory)) throw new ApiError('INVALID_INPUT', 'The restore folder must be an absolute path.', { field: 'toDirectory' })
    const label = paths.length === 1 ? (paths[0] ?? '') : `${paths.length} items`
    const outcome: RestoreOutcome = { notRestored: [], renames: [] }
    const job = this.options.jobs.start({
      kind: 'files.restore',
      ...(retry !== undefined ? { retry } : {}),
      title: `Restore ${label} to ${toDirectory}`,
      steps: [
        { id: 'open', label: 'Open the disk' },
        { id: 'measure', label: 'Count what to copy' },
        { id: 'copy', label: 'Copy files' },
      ],
      run: async (ctx) => {
        const endOpen = ctx.step('open')
        const src = await this.acquire(ref, ctx.signal)
        try {
          const volume = await this.volume(src, locator, ctx.signal)
          endOpen()
          const endMeasure = ctx.step('measure')
          const plans: RestorePlan[] = []
          for (const p of paths) plans.push(await measure(volume, p, ctx.signal))
          const total = plans.reduce((n, p) => n + p.bytes, 0)
          const space = await checkFreeSpace(toDirectory, plans.reduce((n, p) => n + p.diskBytes, 0), this.options.statfs)
          if (!space.ok) throw new ApiError('NO_SPACE', space.message, { needed: space.needed, free: space.free })
          ctx.log('info', `Copying ${formatBytes(total)} (${space.message}).`)
          endMeasure()
          const endCopy = ctx.step('copy')
          let done = 0
          const wrote = { any: false }
          try {
            for (const [i, p] of paths.entries()) {
              const base = done
              const plan = plans[i]
              const report = await extractTo(volume, p, toDirectory, {
                signal: ctx.signal,
                ...(extra.streams === true ? { streams: true } : {}),
                ...(plan ? { plan } : {}),
                ...(this.options.statfs ? { statfs: this.options.statfs } : {}),
                onCreated: () => (wrote.any = true),
                onProgress: (u) => ctx.progress({ phase: 'restoring', bytesDone: base + u.bytesDone, bytesTotal: total, ...(u.detail !== undefined ? { detail: u.detail } : {}) }),
              })
              done += report.bytes
              outcome.notRestored.push(...report.skipped)
              outcome.renames.push(...report.renamed)
              for (const s of report.skipped) ctx.log('warn', notRestoredLine(s))
              for (const r of report.renamed) ctx.log('warn', renamedLine(r))
              ctx.log('info', `${p}: ${report.files} files, ${report.directories} folders, ${report.symlinks} links${report.streams > 0 ? `, ${report.streams} streams` : ''}, ${report.bytes} bytes`)
            }
          } catch (err) {
            if (wrote.any) ctx.leftBehind(`Partly restored files in ${toDirectory} (delete them or run the restore again into an empty folder); no half-written file is among them`)
            throw err
          }
          const skipped = outcome.notRestored.length
          if (skipped > 0) ctx.log('warn', notRestoredCountLine(skipped))
          endCopy()
          ctx.progress({ phase: 'done', bytesDone: done, bytesTotal: total })
          return {
            bytes: done,
            skipped,
            renamed: outcome.renames.length,
            notRestored: outcome.notRestored.slice(0, LISTED_IN_JOB),
            renames: outcome.renames.slice(0, LISTED_IN_JOB),
          }
        } finally {
          this.releaseSource(src)
        }
      },
    })
    this.outcomes.remember(job.id, outcome)
    return { jobId: job.id, done: job.done }
  }

  async close(): Promise<void> {
    clearInterval(this.timer)
    this.outcomes.clear()
    const all = [...this.open.values()]
    this.open.clear()
    for (const p of all) await p.then((s) => s.image.close()).catch(() => undefined)
  }

  private async use<T>(ref: DiskSourceRef, signal: AbortSignal | undefined, fn: (src: OpenSource) => Promise<T>): Promise<T> {
    const src = await this.acquire(ref, signal)
    try {
      return await fn(src)
    } finally {
      this.releaseSource(src)
    }
  }

  private async withVolume<T>(ref: DiskSourceRef, locator: string | undefined, signal: AbortSignal | undefined, fn: (v: Volume) => Promise<T>): Promise<T> {
    return await this.use(ref, signal, async (src) => fn(await this.volume(src, locator, signal)))
  }

  private async volume(src: OpenSource, locator: string | undefined, signal?: AbortSignal): Promise<Volume> {
    const key = locator ?? ''
    let v = src.volumes.get(key)
    if (!v) {
      v = src.image.openVolume(locator, signal ? { signal } : {})
      src.volumes.set(key, v)
      v.catch(() => src.volumes.delete(key))
    }
    return await v
  }

  private async acquire(ref: DiskSourceRef, signal?: AbortSignal): Promise<OpenSource> {
    const key = JSON.stringify(ref)
    let pending = this.open.get(key)
    if (!pending) {
      pending = this.openSource(ref, signal).then((image) => ({ image, volumes: new Map(), users: 0, lastUsed: Date.now() }))
      this.open.set(key, pending)
      pending.catch(() => this.open.delete(key))
      await this.evictBeyond(this.options.maxOpen ?? 8)
    }
    const src = await pending
    src.users++
    src.lastUsed = Date.now()
    return src
  }

  private releaseSource(src: OpenSource): void {
    src.users--
    src.lastUsed = Date.now()
  }

  private async openSource(ref: DiskSourceRef, signal?: AbortSignal): Promise<OpenedImage> {
    if (ref.kind === 'image') {
      for (const p of ref.paths) if (!path.isAbsolute(p)) throw new ApiError('INVALID_INPUT', `Give image files as absolute paths (${p}).`, { field: 'paths' })
      return await openImage(ref.paths, signal ? { signal } : {})
    }
    if (ref.kind === 'snapshot') {
      if (this.options.hosts === undefined) throw new ApiError('NOT_SUPPORTED', 'This engine has no saved hosts to browse snapshots on.')
      return await openLiveSnapshot(this.options.hosts, ref, signal)
    }
    // A location string (folder, sftp://, s3://); Repositories parses it and names the `repo` field when it is wrong.
    const repo = await this.options.repositories.open(ref.repo !== undefined ? { location: ref.repo } : {}, signal)
    const disks: BlockSource[] = []
    try {
      const point = await repo.getPoint(ref.pointId, signal)
      const names = ref.disks ?? point.disks.map((d) => d.name)
      for (const name of names) disks.push(await repo.openDisk(ref.pointId, name, signal ? { signal } : {}))
      const opened = await openImage(disks, { guestDisks: true, ...(signal ? { signal } : {}) })
      // The repository stays open as long as the image: closing the image closes it too.
      return { ...opened, close: async () => {
        await opened.close()
        await repo.close()
      } }
    } catch (err) {
      for (const d of disks) await d.close().catch(() => undefined)
      await repo.close()
      throw err
    }
  }

  private async evictIdle(): Promise<void> {
    const idleMs = this.options.idleMs ?? 60_000
    for (const [key, pending] of this.open) {
      const src = await pending.catch(() => undefined)
      if (src && src.users === 0 && Date.now() - src.lastUsed > idleMs) {
        this.open.delete(key)
        await src.image.close().catch(() => undefined)
      }
    }
  }

  private async evictBeyond(max: number): Promise<void> {
    if (this.open.size <= max) return
    const settled = await Promise.all([...this.open].map(async ([key, p]) => ({ key, src: await p.catch(() => undefined) })))
    const idle = settled.filter((s) => s.src && s.src.users === 0).sort((a, b) => (a.src?.lastUsed ?? 0) - (b.src?.lastUsed ?? 0))
    for (const { key, src } of idle.slice(0, this.open.size - max)) {
      this.open.delete(key)
      await src?.image.close().catch(() => undefined)
    }
  }
}

/** What a restore of `p` will copy (for an honest progress bar and the free-space check), by the shared walk. */
async function measure(volume: Volume, p: string, signal: AbortSignal): Promise<RestorePlan> {
  const parts = splitPath(p)
  return await measureTree(volume, await volume.node(p, { signal }), parts.length ? `/${parts.join('/')}` : '/', { signal })
}
