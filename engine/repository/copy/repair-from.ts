import { CHUNK_SIZE, MAX_MANIFEST_BYTES, chunkKey, pointKey } from '../format.js'
import { ObjectTooLargeError, type RepositoryBackend } from '../backend.js'
import { RepositoryError, throwIfCancelled } from '../errors.js'
import { lockRepository } from '../repo-lock.js'
import { decodeManifest } from '../manifest.js'
import { verify, type DamagedPoint, type VerifyReport } from '../maintenance/verify.js'
import { assertSameRepository } from './copy-target.js'
import { chunkObject, opensAs } from './objects.js'
import type { ProgressSink } from '../../common/progress.js'
import type { RepoContext } from '../context.js'

export interface RepairOptions {
  /** A copy of this repository (made by copyPoint) to fetch whole chunks and manifests from. */
  readonly from: RepositoryBackend
  readonly signal?: AbortSignal
  readonly progress?: ProgressSink
}

export interface RepairReport {
  /** What verify found before the repair. */
  readonly found: VerifyReport
  readonly repairedChunks: readonly string[]
  readonly repairedManifests: readonly string[]
  /** Restore points still damaged after the repair: the copy lacks (or also has damaged) what they need. */
  readonly unrepaired: readonly DamagedPoint[]
  readonly ok: boolean
}

/**
 * verify, then fetch each damaged or missing chunk (and each damaged manifest) from a copy, prove it against its
 * id, write it in place and read it back. Like Proxmox's `resync-corrupt`, but from any copy of the repository.
 * Points the copy cannot mend are named. The ingest lock keeps a GC from starting meanwhile only in the sense
 * that matters: what is written here is referenced, so no GC removes it.
 */
export async function repairFrom(ctx: RepoContext, options: RepairOptions): Promise<RepairReport> {
  const { from, signal } = options
  await assertSameRepository(ctx, from, signal)
  const found = await verify(ctx, { ...(signal ? { signal } : {}), ...(options.progress ? { progress: options.progress } : {}) })
  if (found.ok) return { found, repairedChunks: [], repairedManifests: [], unrepaired: [], ok: true }
  await using _lock = await lockRepository(ctx, 'ingest', `repair from ${from.label}`, signal)
  const leftBehind = 'The chunks repaired so far are in place and whole; run the repair again for the rest.'
  const repairedManifests: string[] = []
  for (const p of found.damagedPoints) {
    if (p.manifestProblem === undefined) continue
    throwIfCancelled(signal, leftBehind)
    const theirs = await from.get(pointKey(p.pointId), { maxBytes: MAX_MANIFEST_BYTES, signal }).catch((error: unknown) => {
      if (error instanceof ObjectTooLargeError) return undefined
      throw error
    })
    if (theirs === undefined) continue
    try {
      decodeManifest(theirs, p.pointId, ctx.ops, ctx.encrypted)
    } catch {
      continue
    }
    await ctx.backend.put(pointKey(p.pointId), theirs, signal)
    repairedManifests.push(p.pointId)
  }
  const lengths = new Map<string, number>()
  for (const p of found.damagedPoints) {
    if (p.disks.length === 0) continue
    const sizes = await diskSizes(ctx, p.pointId, signal)
    for (const d of p.disks) for (const c of d.chunks) if (!lengths.has(c.id)) lengths.set(c.id, Math.min(CHUNK_SIZE, (sizes.get(d.disk) ?? 0) - c.index * CHUNK_SIZE))
  }
  const repairedChunks: string[] = []
  for (const [id, length] of lengths) {
    throwIfCancelled(signal, leftBehind)
    const object = await chunkObject(from, id, signal)
    if (object === undefined || !(await opensAs(ctx, Buffer.from(object), id, length))) continue
    await ctx.backend.put(chunkKey(id), object, signal)
    const back = await chunkObject(ctx.backend, id, signal)
    if (back !== undefined && (await opensAs(ctx, back, id, length))) repairedChunks.push(id)
  }
  await ctx.backend.flush(signal)
  // A mended manifest brings chunks nobody has checked yet: only a fresh verify can say what is whole now.
  const after = repairedManifests.length > 0 ? await verify(ctx, signal ? { signal } : {}) : undefined
  const fixed = new Set(repairedChunks)
  const unrepaired =
    after?.damagedPoints ??
    found.damagedPoints
      .map((p) => ({ ...p, disks: p.disks.map((d) => ({ ...d, chunks: d.chunks.filter((c) => !fixed.has(c.id)) })).filter((d) => d.chunks.length > 0) }))
      .filter((p) => p.manifestProblem !== undefined || p.disks.length > 0)
  return { found, repairedChunks, repairedManifests, unrepaired, ok: unrepaired.length === 0 }
}

async function diskSizes(ctx: RepoContext, pointId: string, signal?: AbortSignal): Promise<Map<string, number>> {
  const raw = await ctx.backend.get(pointKey(pointId), { maxBytes: MAX_MANIFEST_BYTES, signal })
  if (raw === undefined) throw new RepositoryError('POINT_NOT_FOUND', `Restore point ${pointId} disappeared during the repair.`, { pointId })
  return new Map(decodeManifest(raw, pointId, ctx.ops, ctx.encrypted).disks.map((d) => [d.name, d.size]))
}
