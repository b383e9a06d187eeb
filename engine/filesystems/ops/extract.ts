import { createWriteStream } from 'node:fs'
import { chmod, lstat, lutimes, mkdir, symlink, utimes } from 'node:fs/promises'
import { dirname } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import type { ProgressSink } from '../../jobs/progress'
import { FilesystemError } from '../errors'
import { splitPath } from '../generic-volume'
import type { FsEntry, Volume } from '../types'
import { defaultPlatform, joinInside, safeName, symlinkStaysInside, type TargetPlatform } from './safe-names'

export interface ExtractOptions {
  readonly signal?: AbortSignal
  readonly onProgress?: ProgressSink
  readonly platform?: TargetPlatform
  /** Restore POSIX permission bits (never setuid/setgid/sticky). Default true on POSIX targets. */
  readonly preserveModes?: boolean
  readonly preserveTimes?: boolean
  /** Stop before writing more than this many bytes / objects (a damaged image can claim anything). */
  readonly maxBytes?: number
  readonly maxEntries?: number
}

export interface ExtractReport {
  files: number
  directories: number
  symlinks: number
  bytes: number
  /** Objects not restored, with the reason in plain words. */
  readonly skipped: { path: string; reason: string }[]
  /** Names changed to be safe on the target. */
  readonly renamed: { path: string; to: string }[]
}

interface Pending {
  readonly path: string
  readonly entry: FsEntry
}

/**
 * Restores a file or folder from a volume into `targetDir`. Nothing is ever written outside it: names are made
 * safe or refused, existing files are never overwritten (exclusive create), symlinks are created last and only
 * when they point inside the target, and special files are skipped. Times and modes are applied where possible.
 */
export async function extractTo(volume: Volume, sourcePath: string, targetDir: string, options: ExtractOptions = {}): Promise<ExtractReport> {
  const platform = options.platform ?? defaultPlatform()
  const preserveModes = options.preserveModes ?? platform === 'posix'
  const preserveTimes = options.preserveTimes ?? true
  const maxBytes = options.maxBytes ?? Number.MAX_SAFE_INTEGER
  const maxEntries = options.maxEntries ?? 10_000_000
  const signal = options.signal
  const report: ExtractReport = { files: 0, directories: 0, symlinks: 0, bytes: 0, skipped: [], renamed: [] }
  await mkdir(targetDir, { recursive: true })
  const rootEntry = await volume.stat(sourcePath, signal ? { signal } : {})
  const links: { at: string; target: string; path: string; entry: FsEntry }[] = []
  const dirTimes: { at: string; entry: FsEntry }[] = []
  let entries = 0
  const emit = (detail: string): void => options.onProgress?.({ phase: 'restoring', bytesDone: report.bytes, detail })

  const place = async (item: Pending, parentOut: string, usedNames: Set<string>): Promise<void> => {
    signal?.throwIfAborted()
    if (++entries > maxEntries) throw new FilesystemError('limit', `Restore stopped: more than ${maxEntries} objects`)
    const decision = safeName(item.entry.name, platform)
    if (!decision.ok) {
      report.skipped.push({ path: item.path, reason: decision.reason })
      return
    }
    let name = decision.name
    const fold = (n: string): string => (platform === 'windows' ? n.toUpperCase() : n)
    for (let i = 2; usedNames.has(fold(name)); i++) name = `${decision.name}~${i}`
    usedNames.add(fold(name))
    if (name !== item.entry.name) report.renamed.push({ path: item.path, to: name })
    const out = joinInside(targetDir, [...relativeParts(parentOut), name])
    const e = item.entry
    switch (e.type) {
      case 'directory': {
        await mkdirExclusiveOrReal(out)
        report.directories++
        const children = await volume.list(item.path, signal ? { signal } : {})
        const used = new Set<string>()
        for (const c of children) await place({ path: joinPath(item.path, c.name), entry: c }, out, used)
        if (preserveModes && e.mode !== undefined) await chmod(out, e.mode & 0o777)
        dirTimes.push({ at: out, entry: e })
        break
      }
      case 'file': {
        if (report.bytes + e.size > maxBytes) throw new FilesystemError('limit', `Restore stopped: more than ${maxBytes} bytes`)
        const ws = createWriteStream(out, { flags: 'wx', mode: 0o600 })
        await pipeline(Readable.from(volume.readFile(item.path, signal ? { signal } : {})), ws, signal ? { signal } : {})
        report.files++
        report.bytes += e.size
        if (preserveModes && e.mode !== undefined) await chmod(out, e.mode & 0o777)
        if (preserveTimes && e.mtime) await utimes(out, e.atime ?? e.mtime, e.mtime)
        emit(item.path)
        break
      }
      case 'symlink':
        links.push({ at: out, target: e.symlinkTarget ?? '', path: item.path, entry: e })
        break
      default:
        report.skipped.push({ path: item.path, reason: `${e.type} files are not restored` })
    }
  }

  const rootName = splitPath(sourcePath).pop()
  if (rootEntry.type === 'directory' && rootName === undefined) {
    const used = new Set<string>()
    for (const c of await volume.list('/', signal ? { signal } : {})) await place({ path: joinPath('/', c.name), entry: c }, targetDir, used)
  } else {
    await place({ path: sourcePath, entry: { ...rootEntry, name: rootName ?? rootEntry.name } }, targetDir, new Set())
  }
  for (const l of links) {
    if (platform === 'windows' || !symlinkStaysInside(targetDir, dirname(l.at), l.target)) {
      report.skipped.push({ path: l.path, reason: platform === 'windows' ? 'symbolic links are not restored on Windows' : `the link points outside the restore folder (${l.target})` })
      continue
    }
    await symlink(l.target, l.at)
    report.symlinks++
    if (preserveTimes && l.entry.mtime) await lutimes(l.at, l.entry.mtime, l.entry.mtime).catch(() => undefined)
  }
  if (preserveTimes) for (const d of dirTimes.reverse()) if (d.entry.mtime) await utimes(d.at, d.entry.atime ?? d.entry.mtime, d.entry.mtime)
  return report

  function relativeParts(parentOut: string): string[] {
    const rel = parentOut.slice(joinInside(targetDir, []).length)
    return rel.split(/[\\/]/).filter((p) => p !== '')
  }
}

async function mkdirExclusiveOrReal(path: string): Promise<void> {
  try {
    await mkdir(path)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    const st = await lstat(path)
    if (!st.isDirectory()) throw new FilesystemError('unsafe-name', `${path} already exists and is not a folder; not restoring into it`)
  }
}

function joinPath(dir: string, name: string): string {
  return dir === '/' || dir === '' ? `/${name}` : `${dir}/${name}`
}
