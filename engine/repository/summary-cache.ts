import { randomBytes } from 'node:crypto'
import { appendFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { isPointId } from './format.js'
import type { BackupMode, Consistency, PointSummary } from './types.js'

/**
 * What listing a repository remembers of each restore point, so that a year of points is not decrypted, decompressed
 * and parsed again on every `points list` or prune. A manifest never changes once written (a point id names one
 * manifest for ever; repair-from puts back the same bytes), so a summary kept by point id stays true; the list of
 * points itself always comes from the repository, so pruned points vanish at once. A damaged manifest is found by
 * verify and check, which never use this.
 */
export interface SummaryCache {
  /** Every summary remembered for this repository (by point id). */
  load(repositoryId: string): Promise<Map<string, PointSummary>>
  /** Adds these; `listed` (the points the repository has now) lets the cache drop what was pruned. */
  remember(repositoryId: string, summaries: readonly PointSummary[], listed: ReadonlySet<string>): Promise<void>
}

/** A cache file larger than this is not read (a few hundred bytes a point: ~100,000 points). */
const MAX_FILE_BYTES = 64 * 1024 * 1024
const MAX_LINE_BYTES = 64 * 1024
const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/

/**
 * One file per repository, `dir/<repository id>.jsonl`, a summary a line, read whole (one read, however many points).
 * New summaries are appended (one write of whole lines, so the app and a CLI adding at once do not tear each other's
 * lines); when more than half of the lines are of points no longer there, the file is rewritten (temp file, rename).
 * Best effort: an unreadable line or file is read as missing and summarised again; a failed write only means the
 * next listing decodes those manifests again. It holds what `points list` shows (VM names, times, sizes) in the
 * clear on this machine, also for encrypted repositories.
 */
export function folderSummaryCache(dir: string): SummaryCache {
  const file = (repositoryId: string): string | undefined => (SAFE_ID.test(repositoryId) ? path.join(dir, `${repositoryId}.jsonl`) : undefined)
  const read = async (f: string): Promise<{ map: Map<string, PointSummary>; lines: number }> => {
    const map = new Map<string, PointSummary>()
    let raw: Buffer
    try {
      if ((await stat(f)).size > MAX_FILE_BYTES) return { map, lines: 0 }
      raw = await readFile(f)
    } catch {
      return { map, lines: 0 }
    }
    let lines = 0
    for (const line of raw.toString('utf8').split('\n')) {
      if (line === '') continue
      lines++
      if (line.length > MAX_LINE_BYTES) continue
      try {
        const value: unknown = JSON.parse(line)
        if (isSummary(value)) map.set(value.id, value)
      } catch {
        // A torn or edited line: that point is summarised again.
      }
    }
    return { map, lines }
  }
  return {
    async load(repositoryId) {
      const f = file(repositoryId)
      return f === undefined ? new Map() : (await read(f)).map
    },
    async remember(repositoryId, summaries, listed) {
      const f = file(repositoryId)
      if (f === undefined) return
      try {
        await mkdir(dir, { recursive: true })
        // Begins with a newline: a line torn by a crash before it must not swallow the first new one.
        await appendFile(f, `\n${summaries.map((s) => `${JSON.stringify(s)}\n`).join('')}`)
        const { map, lines } = await read(f)
        const live = [...map.values()].filter((s) => listed.has(s.id))
        if (lines > 2 * live.length + 16) {
          const temp = `${f}.${randomBytes(6).toString('hex')}.tmp`
          try {
            await writeFile(temp, live.map((s) => `${JSON.stringify(s)}\n`).join(''))
            await rename(temp, f)
          } finally {
            await rm(temp, { force: true })
          }
        }
      } catch {
        // Remembered next time, then.
      }
    },
  }
}

const MODES: ReadonlySet<unknown> = new Set<BackupMode>(['cold', 'warm', 'hot'])
const CONSISTENCIES: ReadonlySet<unknown> = new Set<Consistency>(['offline', 'app', 'crash'])
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

/** The shape `summarize` writes; anything else is not trusted. */
function isSummary(v: unknown): v is PointSummary {
  if (!isObject(v) || !isPointId(v.id)) return false
  if (v.parentId !== null && !isPointId(v.parentId)) return false
  if (!isObject(v.vm) || typeof v.vm.id !== 'string' || typeof v.vm.name !== 'string') return false
  if (!isObject(v.sourceHost) || typeof v.sourceHost.name !== 'string') return false
  if (!MODES.has(v.mode) || !CONSISTENCIES.has(v.consistency) || typeof v.startedAt !== 'string' || typeof v.finishedAt !== 'string') return false
  if (!Array.isArray(v.disks) || !v.disks.every((d) => isObject(d) && typeof d.name === 'string' && isCount(d.size))) return false
  const s = v.stats
  if (!isObject(s)) return false
  for (const k of ['bytesRead', 'bytesNew', 'bytesStored', 'chunksNew', 'chunksReused', 'chunksZero', 'chunksFromParent']) if (!isCount(s[k])) return false
  for (const k of ['bytesHoles', 'bytesZero']) if (s[k] !== undefined && !isCount(s[k])) return false
  return true
}
