import { chmod, lstat, mkdir, utimes } from 'node:fs/promises'
import type { ProgressSink } from '../../common/progress'
import { FilesystemError } from '../errors'
import { splitPath } from '../generic-volume'
import { createPacer } from '../pace'
import type { FsEntry, Volume } from '../types'
import { walk, type WalkVisit } from '../walk'
import { checkFreeSpace, type StatfsFn } from './free-space'
import { measureTree, type RestorePlan } from './measure'
import { placeLinks, type PendingLink } from './safe-links'
import { defaultPlatform, joinInside, safeName, type TargetPlatform } from './safe-names'
import { processUmask, SourceReadError, writeSparseFile, type WriteBudget } from './sparse-writer'
import { TaskPool } from './task-pool'

/**
 * Files up to this size are written several at once (FILES_AT_ONCE): for them the target's round trips (create,
 * mode, times, close, link), not the data, are the cost. Larger files are written one by one as they come.
 */
const SMALL_FILE = 256 * 1024
const FILES_AT_ONCE = 16

export interface ExtractOptions {
  readonly signal?: AbortSignal
  readonly onProgress?: ProgressSink
  /** Called once, when the restore first creates something in the target (a folder, a file). */
  readonly onCreated?: () => void
  readonly platform?: TargetPlatform
  /** Restore POSIX permission bits (never setuid/setgid/sticky). Default true on POSIX targets. */
  readonly preserveModes?: boolean
  readonly preserveTimes?: boolean
  /** Stop before writing more than this many bytes / objects (a damaged image can claim anything). */
  readonly maxBytes?: number
  readonly maxEntries?: number
  /** Folders deeper than this below the source are not restored (reported). */
  readonly maxDepth?: number
  /** A measurement the caller already made of this source, so the tree is not walked twice. */
  readonly plan?: RestorePlan
  /** How to ask the target for its free space (tests inject an answer); fs.statfs by default. */
  readonly statfs?: StatfsFn
  /**
   * Also restore each file's named data streams (NTFS alternate data streams) as `NAME:STREAM` beside it: NTFS
   * names cannot hold ':', so such a name never meets a file of the image. Where ':' is not allowed (Windows
   * targets) the name is made safe like any other and reported as renamed.
   */
  readonly streams?: boolean
}

export interface ExtractReport {
  files: number
  directories: number
  symlinks: number
  /** Named data streams restored (with `streams`). */
  streams: number
  bytes: number
  /** Bytes of data actually written (holes are not written). */
  written: number
  /** Objects not restored, with the reason in plain words. */
  readonly skipped: { path: string; reason: string }[]
  /** Names changed to be safe on the target. */
  readonly renamed: { path: string; to: string }[]
}

/** A named stream to restore beside its file, with its name in the restore folder already chosen. */
interface StreamOut {
  readonly stream: { readonly name: string; readonly size: number }
  readonly path: string
  readonly parts: readonly string[]
}

interface OutDir {
  readonly parts: readonly string[]
  readonly used: Set<string>
  readonly entry: FsEntry
  /** False for the target folder itself (restoring a whole volume into it). */
  readonly made: boolean
  /** Created by this restore just now (not an existing folder restored into): nothing else can be in it yet. */
  readonly fresh: boolean
}

/**
 * Restores a file or folder from a volume into `targetDir`. Nothing is ever written outside it: names are carried
 * as components and made safe or refused, existing files are never overwritten (exclusive create), symlinks are
 * created last and only when no resolution of them (through the other restored links) leaves the target, and special
 * files are skipped. The walk is the shared one (loops, depth, pacing, cancel). Before writing, what the copy will
 * take is compared with the target's free space; files are written sparse. A file that cannot be read is removed and
 * listed in `skipped`, and the others are still restored; problems of the target (full, no permission) stop it.
 */
export async function extractTo(volume: Volume, sourcePath: string, targetDir: string, options: ExtractOptions = {}): Promise<ExtractReport> {
  const platform = options.platform ?? defaultPlatform()
  const preserveModes = options.preserveModes ?? platform === 'posix'
  const preserveTimes = options.preserveTimes ?? true
  const maxBytes = options.maxBytes ?? Number.MAX_SAFE_INTEGER
  const signal = options.signal
  const pacer = createPacer()
  const report: ExtractReport = { files: 0, directories: 0, symlinks: 0, streams: 0, bytes: 0, written: 0, skipped: [], renamed: [] }
  const root = await volume.node(sourcePath, signal ? { signal } : {})
  const rootName = splitPath(sourcePath).pop()
  const rootPath = rootName === undefined ? '/' : `/${splitPath(sourcePath).join('/')}`
  const plan = options.plan ?? (await measureTree(volume, root, rootPath, { ...(signal ? { signal } : {}), pacer }))
  const space = await checkFreeSpace(targetDir, plan.diskBytes, options.statfs)
  if (!space.ok) throw new FilesystemError('limit', space.message, { needed: space.needed, free: space.free })
  const budget: WriteBudget = { left: space.free, free: space.free }

  let createdAny = false
  const created = (): void => {
    if (createdAny) return
    createdAny = true
    options.onCreated?.()
  }
  await mkdir(targetDir, { recursive: true }).then((made) => made !== undefined && created())
  const links: PendingLink[] = []
  const dirsDone: { at: string; entry: FsEntry }[] = []
  const stack: OutDir[] = []
  const emit = (detail: string): void => options.onProgress?.({ phase: 'restoring', bytesDone: report.bytes, detail })
  const fold = (n: string): string => (platform === 'windows' ? n.toUpperCase() : n)

  /** The safe output components for an object at `path`, or undefined when its name is refused (reported). */
  const outParts = (path: string, name: string): string[] | undefined => {
    const parent = stack[stack.length - 1]
    const decision = safeName(name, platform)
    if (!decision.ok) {
      report.skipped.push({ path, reason: decision.reason })
      return undefined
    }
    let safe = decision.name
    const used = parent?.used ?? new Set<string>()
    for (let i = 2; used.has(fold(safe)); i++) safe = `${decision.name}~${i}`
    used.add(fold(safe))
    if (safe !== name) report.renamed.push({ path, to: safe })
    return [...(parent?.parts ?? []), safe]
  }

  /** One file, sparse and under a temporary name until whole; a file that cannot be read is skipped and reported. */
  const restoreFile = async (visit: WalkVisit, out: string, freshFolder: boolean, streams: readonly StreamOut[]): Promise<void> => {
    const e = visit.node.entry
    try {
      const { written } = await writeSparseFile(volume, visit.node, out, {
        ...(signal ? { signal } : {}),
        pacer,
        budget,
        onCreated: created,
        freshFolder,
        ...(umask !== undefined ? { umask } : {}),
        ...attributes(e),
      })
      report.written += written
    } catch (err) {
      const reason = err instanceof SourceReadError ? `the file ${err.message}` : itemRefusedByTarget(err)
      if (reason === undefined) throw err
      report.skipped.push({ path: visit.path, reason: `${reason}; nothing of it was kept` })
      return
    }
    report.files++
    report.bytes += e.size
    for (const s of streams) await writeStream(visit, s)
    emit(visit.path)
  }
  const attributes = (e: FsEntry): { mode?: number; times?: { atime: Date; mtime: Date } } => ({
    ...(preserveModes && e.mode !== undefined ? { mode: e.mode & 0o777 } : {}),
    ...(preserveTimes && e.mtime ? { times: { atime: e.atime ?? e.mtime, mtime: e.mtime } } : {}),
  })

  /** One named stream of a file just restored, as its own file `NAME:STREAM`; a stream that fails is skipped. */
  const writeStream = async (visit: WalkVisit, { stream, path, parts }: StreamOut): Promise<void> => {
    try {
      const { written } = await writeSparseFile(volume, visit.node, joinInside(targetDir, parts), { ...(signal ? { signal } : {}), pacer, budget, stream, ...attributes(visit.node.entry) })
      report.written += written
      report.streams++
    } catch (err) {
      const reason = err instanceof SourceReadError ? `the stream ${err.message}` : itemRefusedByTarget(err)
      if (reason === undefined) throw err
      report.skipped.push({ path, reason: `${reason}; nothing of it was kept` })
    }
  }

  const events = walk(volume, root, rootPath, {
    ...(signal ? { signal } : {}),
    maxDepth: options.maxDepth ?? 256,
    maxEntries: options.maxEntries ?? 10_000_000,
    pacer,
    onProblem: (p) => report.skipped.push({ path: p.path, reason: p.reason }),
  })
  const umask = await processUmask()
  const pool = new TaskPool(FILES_AT_ONCE)
  let dispatched = 0
  try {
    for await (const ev of events) {
      const { visit } = ev
      const e = visit.node.entry
      const name = visit.depth === 0 ? (rootName ?? e.name) : e.name
      if (ev.kind === 'leave') {
        const dir = stack.pop()
        if (!dir?.made) continue
        dirsDone.push({ at: joinInside(targetDir, dir.parts), entry: e })
        continue
      }
      if (ev.kind === 'enter') {
        if (visit.depth === 0 && rootName === undefined) {
          stack.push({ parts: [], used: new Set(), entry: e, made: false, fresh: false })
          continue
        }
        const parts = outParts(visit.path, name)
        if (parts === undefined) {
          ev.skipChildren()
          stack.push({ parts: [], used: new Set(), entry: e, made: false, fresh: false })
          continue
        }
        let fresh: boolean
        try {
          fresh = await mkdirExclusiveOrReal(joinInside(targetDir, parts))
          if (fresh) created()
        } catch (err) {
          const reason = itemRefusedByTarget(err)
          if (reason === undefined) throw err
          report.skipped.push({ path: visit.path, reason: `the folder and its contents were not restored: ${reason}` })
          ev.skipChildren()
          stack.push({ parts, used: new Set(), entry: e, made: false, fresh: false })
          continue
        }
        report.directories++
        stack.push({ parts, used: new Set(), entry: e, made: true, fresh })
        continue
      }
      if (e.type !== 'file' && e.type !== 'symlink') {
        report.skipped.push({ path: visit.path, reason: `${e.type} files are not restored` })
        continue
      }
      const parts = outParts(visit.path, name)
      if (parts === undefined) continue
      if (e.type === 'symlink') {
        if (platform === 'windows') report.skipped.push({ path: visit.path, reason: 'symbolic links are not restored on Windows' })
        else links.push({ at: parts, target: e.symlinkTarget ?? '', path: visit.path, ...(e.mtime ? { mtime: e.mtime } : {}) })
        continue
      }
      dispatched += e.size
      if (dispatched > maxBytes) throw new FilesystemError('limit', `Restore stopped: more than ${maxBytes} bytes`)
      // Names are taken here, in walk order, while `stack` is this file's folder (the write itself may finish later).
      const streams: StreamOut[] = []
      for (const stream of options.streams ? (e.streams ?? []) : []) {
        const path = `${visit.path}:${stream.name}`
        const at = outParts(path, `${name}:${stream.name}`)
        if (at !== undefined) streams.push({ stream, path, parts: at })
      }
      const fresh = stack[stack.length - 1]?.fresh === true
      const write = (): Promise<void> => restoreFile(visit, joinInside(targetDir, parts), fresh, streams)
      if (e.size <= SMALL_FILE) await pool.add(write)
      else await write()
    }
    await pool.drain()
  } finally {
    await pool.settle()
  }
  if (links.length > 0) {
    const placed = await placeLinks(targetDir, links, { pacer, ...(signal ? { signal } : {}), preserveTimes })
    report.symlinks += placed.created
    report.skipped.push(...placed.refused)
  }
  // Folder modes and times last (children first): a read-only folder must not stop its links from being created.
  for (const d of dirsDone) {
    if (preserveModes && d.entry.mode !== undefined) await chmod(d.at, d.entry.mode & 0o777)
    if (preserveTimes && d.entry.mtime) await utimes(d.at, d.entry.atime ?? d.entry.mtime, d.entry.mtime)
  }
  return report
}

/**
 * Target errors that concern one item, not the target as a whole: the restore skips the item and goes on. A full
 * disk or a permission problem is not among them: those stop the restore.
 */
function itemRefusedByTarget(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  if (code === 'EFBIG') return 'the file is larger than the restore folder\'s filesystem allows'
  if (code === 'ENAMETOOLONG') return 'its path is longer than the restore folder\'s filesystem allows'
  return undefined
}

/** Creates a folder; true when it is new. An existing real folder is reused, anything else refused. */
async function mkdirExclusiveOrReal(path: string): Promise<boolean> {
  try {
    await mkdir(path)
    return true
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    const st = await lstat(path)
    if (!st.isDirectory()) throw new FilesystemError('unsafe-name', `${path} already exists and is not a folder; not restoring into it`)
    return false
  }
}
