import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { isPointId } from './format.js'
import type { BackupMode, Consistency, PointSummary } from './types.js'

/**
 * What listing a repository remembers of each restore point, so that a year of points is not decrypted, decompressed
 * and parsed again on every `points list`. A manifest never changes once written (a point id names one manifest for
 * ever; repair-from puts back the same bytes), so a summary kept by point id stays true; the list of points itself
 * always comes from the repository, so pruned points vanish at once. A damaged manifest is found by verify and check,
 * which never use this.
 */
export interface SummaryCache {
  get(repositoryId: string, pointId: string): Promise<PointSummary | undefined>
  put(repositoryId: string, pointId: string, summary: PointSummary): Promise<void>
}

const MAX_ENTRY_BYTES = 64 * 1024
const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/

/**
 * One small JSON file per point under `dir/<repository id>/` (atomic: temp file, then rename, so the app and a CLI
 * writing at once never leave half a file). Best effort: an unreadable or odd entry is read as missing and written
 * again; a failed write only means the next listing decodes that manifest again. It holds what `points list` shows
 * (VM names, times, sizes) in the clear on this machine, also for encrypted repositories.
 */
export function folderSummaryCache(dir: string): SummaryCache {
  const file = (repositoryId: string, pointId: string): string | undefined =>
    SAFE_ID.test(repositoryId) && isPointId(pointId) ? path.join(dir, repositoryId, `${pointId}.json`) : undefined
  return {
    async get(repositoryId, pointId) {
      const f = file(repositoryId, pointId)
      if (f === undefined) return undefined
      let raw: Buffer
      try {
        raw = await readFile(f)
      } catch {
        return undefined
      }
      if (raw.length > MAX_ENTRY_BYTES) return undefined
      try {
        const value: unknown = JSON.parse(raw.toString('utf8'))
        return isSummaryOf(value, pointId) ? value : undefined
      } catch {
        return undefined
      }
    },
    async put(repositoryId, pointId, summary) {
      const f = file(repositoryId, pointId)
      if (f === undefined) return
      const temp = `${f}.${randomBytes(6).toString('hex')}.tmp`
      try {
        await mkdir(path.dirname(f), { recursive: true })
        await writeFile(temp, JSON.stringify(summary))
        await rename(temp, f)
      } catch {
        await rm(temp, { force: true }).catch(() => undefined)
      }
    },
  }
}

const MODES: ReadonlySet<unknown> = new Set<BackupMode>(['cold', 'warm', 'hot'])
const CONSISTENCIES: ReadonlySet<unknown> = new Set<Consistency>(['offline', 'app', 'crash'])
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

/** The shape `summarize` writes, for this point; anything else is not trusted. */
function isSummaryOf(v: unknown, pointId: string): v is PointSummary {
  if (!isObject(v) || v.id !== pointId) return false
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
