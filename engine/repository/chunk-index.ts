import { CHUNKS_PREFIX, chunkIdFromKey } from './format.js'
import { listPointIds, loadManifest } from './points.js'
import type { RepoContext } from './context.js'
import type { PointManifest } from './types.js'

/**
 * The chunks a backup may reuse without writing them: those referenced by a restore point *and* present in
 * storage. Limiting reuse to referenced chunks is what keeps GC safe while backups run (gc.ts): an orphan left by a
 * cancelled backup is written again rather than trusted, so GC may delete orphans at any time.
 * Memory: one string per distinct chunk (~120 bytes), e.g. ~60 MiB for 2 TiB of distinct data.
 */
export async function loadReusableChunks(ctx: RepoContext, signal?: AbortSignal): Promise<{ reusable: Set<string>; manifests: Map<string, PointManifest> }> {
  const present = new Set<string>()
  for await (const info of ctx.backend.list(CHUNKS_PREFIX, signal)) {
    const id = chunkIdFromKey(info.key)
    if (id !== undefined) present.add(id)
  }
  const reusable = new Set<string>()
  const manifests = new Map<string, PointManifest>()
  for (const pointId of await listPointIds(ctx, signal)) {
    let manifest: PointManifest
    try {
      manifest = await loadManifest(ctx, pointId, signal)
    } catch (error) {
      // A damaged or vanished (pruned) point only means fewer chunks to reuse; verify/check report the damage.
      if (error instanceof Error && 'code' in error && (error.code === 'CORRUPT_MANIFEST' || error.code === 'POINT_NOT_FOUND')) continue
      throw error
    }
    manifests.set(pointId, manifest)
    for (const disk of manifest.disks) for (const id of disk.chunks) if (id !== null && present.has(id)) reusable.add(id)
  }
  return { reusable, manifests }
}
