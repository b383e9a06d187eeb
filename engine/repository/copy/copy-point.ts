import { runLanes } from '../../common/lanes.js'
import { CHUNK_SIZE, CHUNKS_PREFIX, MAX_MANIFEST_BYTES, chunkIdFromKey, chunkKey, pointKey } from '../format.js'
import type { RepositoryBackend } from '../backend.js'
import { RepositoryError, throwIfCancelled } from '../errors.js'
import { lockRepository } from '../repo-lock.js'
import { listPointIds, loadManifest } from '../points.js'
import { decodeManifest } from '../manifest.js'
import { prepareCopyTarget } from './copy-target.js'
import { readConfig } from '../config.js'
import { lockPoint } from '../object-lock.js'
import { chunkObject, opensAs } from './objects.js'
import type { ProgressSink } from '../../common/progress.js'
import type { RepoContext } from '../context.js'

export interface CopyPointOptions {
  readonly pointId: string
  /** Where the copy goes: empty (it becomes a copy of this repository) or an earlier copy of it. */
  readonly target: RepositoryBackend
  readonly signal?: AbortSignal
  readonly progress?: ProgressSink
}

export interface CopyReport {
  readonly pointId: string
  readonly target: string
  /** The target was empty and became a copy of this repository. */
  readonly targetCreated: boolean
  /** The point was already in the target; nothing travelled. */
  readonly alreadyThere: boolean
  /** Distinct stored chunks the point needs. */
  readonly chunks: number
  /** Chunks sent (the target lacked them, or held a damaged one). */
  readonly chunksSent: number
  readonly bytesSent: number
  /** Chunks the target already had, referenced by its own points. */
  readonly chunksShared: number
  /** Chunks left by an interrupted copy, read back and found whole, so not sent again. */
  readonly chunksResumed: number
  /** Chunks read back from the target and proven (authenticated, re-hashed) before the point was written there. */
  readonly chunksVerified: number
}

const LEFT_BEHIND =
  'The target holds some of the point\'s chunks but no restore point yet (it stays consistent); copying again resumes where this stopped, and a garbage collection of the target would remove them instead.'

/**
 * Copies one restore point to a second repository. Only chunks the target lacks travel, as the stored objects
 * they are; each one sent is read back from the target and proven against its id, and so is any chunk an
 * interrupted copy left there, before the manifest is written — last, as in a backup, so the point exists in the
 * target only when everything it needs is there and whole. The target's maintenance lock keeps its GC from
 * removing unreferenced chunks meanwhile, which is what makes resuming from them safe.
 */
export async function copyPoint(ctx: RepoContext, options: CopyPointOptions): Promise<CopyReport> {
  const { pointId, target, signal } = options
  const progress = options.progress ?? (() => undefined)
  const manifest = await loadManifest(ctx, pointId, signal)
  const { created } = await prepareCopyTarget(ctx, target, signal)
  await using _lock = await lockRepository(ctx, 'maintenance', `copy of restore point ${pointId} from ${ctx.backend.label}`, signal, target)
  // The copy follows its own lock setting (a copy in S3 can be immutable when the source is not, and the other way).
  const targetConfig = await readConfig(target, signal)
  target.objectLock?.use(targetConfig.objectLock)
  const targetCtx: RepoContext = { ...ctx, backend: target, config: targetConfig }
  const lengths = new Map<string, number>()
  for (const d of manifest.disks) {
    d.chunks.forEach((id, index) => {
      if (id !== null && !lengths.has(id)) lengths.set(id, Math.min(CHUNK_SIZE, d.size - index * CHUNK_SIZE))
    })
  }
  const base = { pointId, target: target.label, targetCreated: created, chunks: lengths.size }
  if (await pointIsThere(targetCtx, pointId, signal)) {
    return { ...base, alreadyThere: true, chunksSent: 0, bytesSent: 0, chunksShared: lengths.size, chunksResumed: 0, chunksVerified: 0 }
  }

  const referenced = await referencedChunks(targetCtx, signal)
  const present = new Set<string>()
  for await (const info of target.list(CHUNKS_PREFIX, signal)) {
    const id = chunkIdFromKey(info.key)
    if (id !== undefined && lengths.has(id)) present.add(id)
  }
  const ids = [...lengths.keys()]
  const bytesTotal = ids.reduce((sum, id) => sum + (referenced.has(id) && present.has(id) ? 0 : (lengths.get(id) ?? 0)), 0)
  let bytesDone = 0
  let chunksSent = 0
  let bytesSent = 0
  let chunksShared = 0
  let chunksResumed = 0
  let chunksVerified = 0
  // A failure stops every lane before the copy reports it: nothing reaches the target after the error.
  await runLanes(
    ids.length,
    Math.max(1, ctx.codec.parallelism * 2),
    async (index, laneSignal) => {
      throwIfCancelled(laneSignal, LEFT_BEHIND)
      const id = ids[index] ?? ''
      const length = lengths.get(id) ?? 0
      if (referenced.has(id) && present.has(id)) {
        chunksShared++
        return
      }
      if (present.has(id) && (await provenInTarget(targetCtx, id, length, laneSignal))) {
        chunksResumed++
        chunksVerified++
      } else {
        const object = await sourceObject(ctx, id, length, pointId, laneSignal)
        await target.put(chunkKey(id), object, laneSignal)
        if (!(await provenInTarget(targetCtx, id, length, laneSignal))) {
          throw new RepositoryError('BACKEND_ERROR', `Chunk ${id.slice(0, 16)}… was written to ${target.label} but does not read back whole. ${LEFT_BEHIND}`, {
            what: 'copying a restore point',
            detail: 'read-back mismatch',
          })
        }
        chunksSent++
        chunksVerified++
        bytesSent += object.length
      }
      bytesDone += length
      progress({ phase: 'copying', bytesDone, bytesTotal, detail: `${chunksSent} chunks sent, ${chunksShared} already there` })
    },
    signal,
  )
  throwIfCancelled(signal, LEFT_BEHIND)
  await target.flush(signal)
  await _lock.assertHeld(signal)

  const stored = await ctx.backend.get(pointKey(pointId), { maxBytes: MAX_MANIFEST_BYTES, signal })
  if (stored === undefined) throw new RepositoryError('POINT_NOT_FOUND', `Restore point ${pointId} was removed from ${ctx.backend.label} while it was being copied. ${LEFT_BEHIND}`, { pointId })
  // The bytes sent are proven to be the point that was checked: an edit between the two reads fails here.
  decodeManifest(stored, pointId, ctx.ops, ctx.encrypted)
  await target.put(pointKey(pointId), stored, signal)
  await target.flush(signal)
  const back = await target.get(pointKey(pointId), { maxBytes: MAX_MANIFEST_BYTES, signal })
  if (back === undefined || !back.equals(stored)) {
    throw new RepositoryError('BACKEND_ERROR', `The restore point's manifest did not read back whole from ${target.label}; the copy does not count. Copy it again.`, {
      what: 'copying a restore point',
      detail: 'manifest read-back mismatch',
    })
  }
  await lockPoint(targetCtx, pointId, signal)
  return { ...base, alreadyThere: false, chunksSent, bytesSent, chunksShared, chunksResumed, chunksVerified }
}

async function pointIsThere(targetCtx: RepoContext, pointId: string, signal?: AbortSignal): Promise<boolean> {
  try {
    await loadManifest(targetCtx, pointId, signal)
    return true
  } catch (error) {
    // A damaged copy of the manifest is written again like a missing one.
    if (error instanceof RepositoryError && (error.code === 'POINT_NOT_FOUND' || error.code === 'CORRUPT_MANIFEST')) return false
    throw error
  }
}

/** Chunks the target's own points use: it vouched for them when those points were written (verify checks them). */
async function referencedChunks(targetCtx: RepoContext, signal?: AbortSignal): Promise<Set<string>> {
  const out = new Set<string>()
  for (const id of await listPointIds(targetCtx, signal)) {
    try {
      const m = await loadManifest(targetCtx, id, signal)
      for (const d of m.disks) for (const c of d.chunks) if (c !== null) out.add(c)
    } catch (error) {
      if (!(error instanceof RepositoryError) || (error.code !== 'POINT_NOT_FOUND' && error.code !== 'CORRUPT_MANIFEST')) throw error
    }
  }
  return out
}

/** The stored object of a chunk, proven whole first: a copy must not spread damage to the second repository. */
async function sourceObject(ctx: RepoContext, id: string, length: number, pointId: string, signal?: AbortSignal): Promise<Buffer> {
  const object = await chunkObject(ctx.backend, id, signal)
  if (object === undefined || !(await opensAs(ctx, Buffer.from(object), id, length))) {
    throw new RepositoryError(
      object === undefined ? 'MISSING_CHUNK' : 'CORRUPT_CHUNK',
      `Chunk ${id.slice(0, 16)}… of restore point ${pointId} is ${object === undefined ? 'missing' : 'damaged'} in ${ctx.backend.label}, so the point cannot be copied from there. Run \`lifeboat repo verify\` on it (with --repair-from an earlier copy, if there is one). ${LEFT_BEHIND}`,
      { id, pointId, reason: object === undefined ? 'missing' : 'damaged' },
    )
  }
  return object
}

async function provenInTarget(targetCtx: RepoContext, id: string, length: number, signal?: AbortSignal): Promise<boolean> {
  const object = await chunkObject(targetCtx.backend, id, signal)
  return object !== undefined && (await opensAs(targetCtx, object, id, length))
}
