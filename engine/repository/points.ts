import { ObjectTooLargeError } from './backend.js'
import { MAX_MANIFEST_BYTES, POINTS_PREFIX, TRASH_PREFIX, pointIdFromKey, pointKey, trashKey } from './format.js'
import { RepositoryError } from './errors.js'
import { decodeManifest, encodeManifest } from './manifest.js'
import { runLanes } from '../common/lanes.js'
import { summarize, type PointManifest, type PointSummary } from './types.js'
import type { RepoContext } from './context.js'

/** Ids of every restore point, oldest first (ids sort by time). */
export async function listPointIds(ctx: RepoContext, signal?: AbortSignal, prefix = POINTS_PREFIX): Promise<string[]> {
  const ids: string[] = []
  for await (const info of ctx.backend.list(prefix, signal)) {
    const id = pointIdFromKey(info.key, prefix)
    if (id !== undefined) ids.push(id)
  }
  return ids.sort()
}

export async function loadManifest(ctx: RepoContext, pointId: string, signal?: AbortSignal, key = pointKey(pointId)): Promise<PointManifest> {
  let raw: Buffer | undefined
  try {
    raw = await ctx.backend.get(key, { maxBytes: MAX_MANIFEST_BYTES, signal })
  } catch (error) {
    if (error instanceof ObjectTooLargeError) {
      throw new RepositoryError('CORRUPT_MANIFEST', `Restore point ${pointId} is damaged: its manifest is ${error.size} bytes, beyond the ${MAX_MANIFEST_BYTES} allowed.`, {
        pointId,
        reason: 'manifest too large',
      })
    }
    throw error
  }
  if (raw === undefined) throw new RepositoryError('POINT_NOT_FOUND', `There is no restore point ${pointId} in this repository.`, { pointId })
  return decodeManifest(raw, pointId, ctx.ops, ctx.encrypted)
}

/** Manifests read at once while summarising. */
const SUMMARY_LANES = 8

/**
 * The summaries of these points, in their order: from the context's cache when it has them, else from their
 * manifests (read a few at once: S3 and SFTP answer each request after a round trip), then remembered. A point that
 * vanished meanwhile is left out; a damaged manifest is reported to `onDamaged` (default: left out) — verify and check
 * report damage, never this.
 */
export async function loadSummaries(ctx: RepoContext, pointIds: readonly string[], signal?: AbortSignal, onDamaged?: (pointId: string, error: RepositoryError) => void): Promise<PointSummary[]> {
  const found: (PointSummary | undefined)[] = new Array<PointSummary | undefined>(pointIds.length)
  const cache = ctx.summaryCache
  const remembered = cache === undefined ? new Map<string, PointSummary>() : await cache.load(ctx.config.id)
  const fresh: PointSummary[] = []
  await runLanes(
    pointIds.length,
    SUMMARY_LANES,
    async (index, laneSignal) => {
      const id = pointIds[index] ?? ''
      const cached = remembered.get(id)
      if (cached !== undefined) {
        found[index] = cached
        return
      }
      try {
        const summary = summarize(await loadManifest(ctx, id, laneSignal))
        found[index] = summary
        fresh.push(summary)
      } catch (error) {
        if (!(error instanceof RepositoryError) || (error.code !== 'POINT_NOT_FOUND' && error.code !== 'CORRUPT_MANIFEST')) throw error
        if (error.code === 'CORRUPT_MANIFEST') onDamaged?.(id, error)
      }
    },
    signal,
  )
  if (cache !== undefined && fresh.length > 0) await cache.remember(ctx.config.id, fresh, new Set(pointIds))
  return found.filter((s): s is PointSummary => s !== undefined)
}

/** Writes a manifest last and atomically: put (temp + fsync + rename) then flush (fsync of the folder). */
export async function writeManifest(ctx: RepoContext, manifest: PointManifest, signal?: AbortSignal): Promise<void> {
  await ctx.backend.put(pointKey(manifest.id), encodeManifest(manifest, ctx.ops, ctx.encrypted), signal)
  await ctx.backend.flush(signal)
}

/**
 * Removes a point from the list of points but keeps its manifest under trash/ until GC knows that no backup that
 * started before the removal can still be reusing its chunks (see gc.ts).
 */
export async function trashPoint(ctx: RepoContext, pointId: string, signal?: AbortSignal): Promise<void> {
  const raw = await ctx.backend.get(pointKey(pointId), { maxBytes: MAX_MANIFEST_BYTES, signal })
  if (raw === undefined) return
  await ctx.backend.put(trashKey(pointId), raw, signal)
  await ctx.backend.flush(signal)
  await ctx.backend.delete(pointKey(pointId), signal)
  await ctx.backend.flush(signal)
}

export interface TrashedPoint {
  readonly pointId: string
  readonly trashedAtMs: number
}

export async function listTrash(ctx: RepoContext, signal?: AbortSignal): Promise<TrashedPoint[]> {
  const out: TrashedPoint[] = []
  for await (const info of ctx.backend.list(TRASH_PREFIX, signal)) {
    const pointId = pointIdFromKey(info.key, TRASH_PREFIX)
    if (pointId !== undefined) out.push({ pointId, trashedAtMs: info.mtimeMs })
  }
  return out
}
