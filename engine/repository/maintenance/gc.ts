import { lockRepository } from '../repo-lock.js'
import { CHUNKS_PREFIX, POINTS_PREFIX, TRASH_PREFIX, chunkIdFromKey, trashKey } from '../format.js'
import { ObjectLockedError, TEMP_MARKER } from '../backend.js'
import { RepositoryError, throwIfCancelled } from '../errors.js'
import { liveLocks } from '../lock.js'
import { listPointIds, listTrash, loadManifest } from '../points.js'
import type { ProgressSink } from '../../common/progress.js'
import type { RepoContext } from '../context.js'
import type { PointManifest } from '../types.js'

export interface GcOptions {
  readonly dryRun?: boolean
  readonly signal?: AbortSignal
  readonly progress?: ProgressSink
}

export interface GcReport {
  readonly dryRun: boolean
  readonly chunksInUse: number
  readonly chunksDeleted: number
  readonly bytesFreed: number
  /** Unreferenced chunks kept because a backup still running may have written or be reusing them. */
  readonly chunksProtected: number
  /** Leftover temporary files from interrupted writes that were removed. */
  readonly tempFilesDeleted: number
  /** Pruned points whose chunks are now free to go (their trash record was dropped). */
  readonly trashDropped: number
  readonly backupsRunning: number
  /** Unused chunks S3 Object Lock still protects: kept, and removed by a GC after their date (latest date given). */
  readonly chunksLocked: number
  readonly lockedUntil?: string
}

/**
 * Mark and sweep, safe while backups run. Why that holds (see also chunk-index.ts and lock.ts):
 *  1. GC holds the maintenance lock, so no *new* backup starts until it is done; running ones carry on.
 *  2. A running backup reuses only chunks referenced by points that existed when it started. Those points are
 *     either still listed (marked here) or were pruned since — pruned points wait in trash/ and stay marked while
 *     any backup that started before the prune is running.
 *  3. Chunks a running backup wrote itself are not referenced yet; they are newer than that backup's start, so
 *     every unreferenced object newer than the oldest running backup's start (less clock skew) is kept.
 * Orphans of a cancelled or killed backup are older than any backup still running, or there is none: swept.
 */
export async function gc(ctx: RepoContext, options: GcOptions = {}): Promise<GcReport> {
  const { signal } = options
  const dryRun = options.dryRun ?? false
  const progress = options.progress ?? (() => undefined)
  await using _lock = await lockRepository(ctx, 'maintenance', 'garbage collection', signal)
  const running = (await liveLocks(ctx.backend, { staleAfterMs: ctx.locking.staleAfterMs, clock: ctx.clock, host: ctx.locking.host, signal })).filter(
    (l) => l.kind === 'ingest',
  )
  const oldestBackup = running.reduce((min, l) => Math.min(min, l.startedAt), Number.POSITIVE_INFINITY)
  // With no backup running every unreferenced object can go: new backups wait for our lock, and any that got
  // past it before we took the lock shows up in `running`. Otherwise keep what is newer than the oldest one.
  const cutoff = running.length === 0 ? Number.POSITIVE_INFINITY : oldestBackup - ctx.locking.clockSkewMs

  const marked = new Set<string>()
  const markPoint = (m: PointManifest): void => {
    for (const d of m.disks) for (const id of d.chunks) if (id !== null) marked.add(id)
  }
  for (const pointId of await listPointIds(ctx, signal)) {
    throwIfCancelled(signal)
    try {
      markPoint(await loadManifest(ctx, pointId, signal))
    } catch (error) {
      if (error instanceof RepositoryError && error.code === 'POINT_NOT_FOUND') continue
      if (error instanceof RepositoryError && error.code === 'CORRUPT_MANIFEST') {
        // Without its chunk list we cannot tell which chunks it needs; deleting anything could destroy it for good.
        throw new RepositoryError('CORRUPT_MANIFEST', `${error.message} Garbage collection stopped before deleting anything, so a repair stays possible.`, error.params, {
          cause: error,
        })
      }
      throw error
    }
  }
  const trash = await listTrash(ctx, signal)
  const droppable: string[] = []
  for (const t of trash) {
    if (t.trashedAtMs + ctx.locking.clockSkewMs >= oldestBackup) {
      try {
        markPoint(await loadManifest(ctx, t.pointId, signal, trashKey(t.pointId)))
      } catch (error) {
        if (!(error instanceof RepositoryError)) throw error
      }
    } else droppable.push(t.pointId)
  }

  let chunksInUse = 0
  let chunksDeleted = 0
  let bytesFreed = 0
  let chunksProtected = 0
  let tempFilesDeleted = 0
  let chunksLocked = 0
  let lockedUntil = 0
  let seen = 0
  for await (const info of ctx.backend.list(CHUNKS_PREFIX, signal)) {
    throwIfCancelled(signal, 'Part of the unused data may already have been removed; nothing still in use was touched.')
    const id = chunkIdFromKey(info.key)
    if (id !== undefined && marked.has(id)) chunksInUse++
    else if (info.mtimeMs >= cutoff) chunksProtected++
    else {
      if (!dryRun) {
        try {
          await ctx.backend.delete(info.key, signal)
        } catch (error) {
          if (!(error instanceof ObjectLockedError)) throw error
          chunksLocked++
          lockedUntil = Math.max(lockedUntil, error.untilMs)
          continue
        }
      }
      if (id === undefined) tempFilesDeleted++
      else {
        chunksDeleted++
        bytesFreed += info.size
      }
    }
    progress({ phase: 'gc', bytesDone: ++seen, detail: `${chunksDeleted} unused chunks removed` })
  }
  // A kill while a manifest or a trash record was being written leaves its temp file beside it, outside chunks/:
  // nothing else ever removes those. The same age rule keeps a running backup's manifest being written.
  for (const prefix of [POINTS_PREFIX, TRASH_PREFIX]) {
    for await (const info of ctx.backend.list(prefix, signal)) {
      if (!info.key.includes(TEMP_MARKER) || info.mtimeMs >= cutoff) continue
      if (!dryRun) await ctx.backend.delete(info.key, signal)
      tempFilesDeleted++
    }
  }
  if (!dryRun) {
    for (const pointId of droppable) await ctx.backend.delete(trashKey(pointId), signal)
    await ctx.backend.flush(signal)
  }
  return {
    dryRun,
    chunksInUse,
    chunksDeleted,
    bytesFreed,
    chunksProtected,
    tempFilesDeleted,
    trashDropped: droppable.length,
    backupsRunning: running.length,
    chunksLocked,
    ...(chunksLocked > 0 ? { lockedUntil: new Date(lockedUntil).toISOString() } : {}),
  }
}

