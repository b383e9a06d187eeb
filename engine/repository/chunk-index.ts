import { runLanes } from '../common/lanes.js'
import { CHUNKS_PREFIX, chunkIdFromKey } from './format.js'
import { listPointIds, loadManifest } from './points.js'
import type { RepositoryBackend } from './backend.js'
import type { RepoContext } from './context.js'

/**
 * What the restore points of one open repository reference, and which points were looked at. Manifests never change
 * once written, so a later backup through the same handle reads only the manifests of points that appeared since; if
 * a point looked at is gone (pruned), everything is looked at again. Memory: one entry per distinct chunk, not per
 * point — a year of points costs what its distinct data costs.
 */
interface ReferenceCount {
  readonly points: Set<string>
  readonly refs: Set<string>
}

/** Per storage handle (a copy's target is another handle with its own count). */
const counts = new WeakMap<RepositoryBackend, ReferenceCount>()

/** Manifests read at once when counting. */
const LANES = 8

/**
 * The chunks a backup may reuse without writing them: those referenced by a restore point *and* present in
 * storage. Limiting reuse to referenced chunks is what keeps GC safe while backups run (gc.ts): an orphan left by a
 * cancelled backup is written again rather than trusted, so GC may delete orphans at any time.
 * Memory: one string per distinct chunk (~120 bytes), e.g. ~60 MiB for 2 TiB of distinct data.
 */
export async function loadReusableChunks(ctx: RepoContext, signal?: AbortSignal): Promise<{ reusable: Set<string> }> {
  const present = new Set<string>()
  for await (const info of ctx.backend.list(CHUNKS_PREFIX, signal)) {
    const id = chunkIdFromKey(info.key)
    if (id !== undefined) present.add(id)
  }
  const listed = await listPointIds(ctx, signal)
  const listedSet = new Set(listed)
  let count = counts.get(ctx.backend)
  if (count === undefined || [...count.points].some((id) => !listedSet.has(id))) {
    count = { points: new Set(), refs: new Set() }
    counts.set(ctx.backend, count)
  }
  const known = count
  const fresh = listed.filter((id) => !known.points.has(id))
  await runLanes(
    fresh.length,
    LANES,
    async (index, laneSignal) => {
      const pointId = fresh[index] ?? ''
      let chunks: Set<string>
      try {
        const manifest = await loadManifest(ctx, pointId, laneSignal)
        chunks = new Set(manifest.disks.flatMap((d) => d.chunks.filter((id): id is string => id !== null)))
      } catch (error) {
        // A damaged or vanished (pruned) point only means fewer chunks to reuse; verify/check report the damage.
        // It is not counted, so it is looked at again next time.
        if (error instanceof Error && 'code' in error && (error.code === 'CORRUPT_MANIFEST' || error.code === 'POINT_NOT_FOUND')) return
        throw error
      }
      for (const id of chunks) known.refs.add(id)
      known.points.add(pointId)
    },
    signal,
  )
  const reusable = new Set<string>()
  for (const id of known.refs) if (present.has(id)) reusable.add(id)
  return { reusable }
}
