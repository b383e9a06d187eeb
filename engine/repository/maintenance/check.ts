import { CHUNKS_PREFIX, MAX_CHUNK_OBJECT_BYTES, POINTS_PREFIX, TRASH_PREFIX, chunkIdFromKey } from '../format.js'
import { TEMP_MARKER } from '../backend.js'
import { RepositoryError, throwIfCancelled } from '../errors.js'
import { liveLocks } from '../lock.js'
import { listPointIds, listTrash, loadManifest } from '../points.js'
import { HEADER_SIZE } from '../codec/sealed-object.js'
import type { RepoContext } from '../context.js'

export interface CheckProblem {
  readonly kind: 'manifest' | 'missing-chunk' | 'chunk-size'
  readonly pointId?: string
  readonly chunkId?: string
  readonly message: string
}

export interface CheckReport {
  readonly ok: boolean
  readonly points: number
  readonly chunks: number
  readonly chunkBytes: number
  /** Chunks no point refers to (left by cancelled backups or prunes): reclaimed by gc(). Not a problem. */
  readonly unreferencedChunks: number
  readonly unreferencedBytes: number
  readonly tempFiles: number
  readonly pointsInTrash: number
  readonly locks: number
  readonly problems: readonly CheckProblem[]
}

/**
 * Checks the repository's structure without reading chunk contents: every manifest parses and passes its
 * checksums, every chunk it names exists and has a plausible size. verify() is the deep (slow) counterpart.
 */
export async function check(ctx: RepoContext, signal?: AbortSignal): Promise<CheckReport> {
  const problems: CheckProblem[] = []
  const chunks = new Map<string, number>()
  let tempFiles = 0
  for await (const info of ctx.backend.list(CHUNKS_PREFIX, signal)) {
    const id = chunkIdFromKey(info.key)
    if (id === undefined) tempFiles++
    else {
      chunks.set(id, info.size)
      if (info.size < HEADER_SIZE || info.size > MAX_CHUNK_OBJECT_BYTES) {
        problems.push({ kind: 'chunk-size', chunkId: id, message: `Chunk ${id} has an impossible size (${info.size} bytes).` })
      }
    }
  }
  // Temp files of interrupted manifest and trash writes (gc() removes them too).
  for (const prefix of [POINTS_PREFIX, TRASH_PREFIX]) for await (const info of ctx.backend.list(prefix, signal)) if (info.key.includes(TEMP_MARKER)) tempFiles++
  const referenced = new Set<string>()
  const pointIds = await listPointIds(ctx, signal)
  for (const pointId of pointIds) {
    throwIfCancelled(signal)
    try {
      const m = await loadManifest(ctx, pointId, signal)
      for (const d of m.disks) {
        d.chunks.forEach((id, index) => {
          if (id === null) return
          referenced.add(id)
          if (!chunks.has(id)) problems.push({ kind: 'missing-chunk', pointId, chunkId: id, message: `Restore point ${pointId}, disk "${d.name}", chunk ${index}: chunk ${id} is missing.` })
        })
      }
    } catch (error) {
      if (!(error instanceof RepositoryError) || error.code !== 'CORRUPT_MANIFEST') throw error
      problems.push({ kind: 'manifest', pointId, message: error.message })
    }
  }
  let chunkBytes = 0
  let unreferencedChunks = 0
  let unreferencedBytes = 0
  for (const [id, size] of chunks) {
    chunkBytes += size
    if (!referenced.has(id)) {
      unreferencedChunks++
      unreferencedBytes += size
    }
  }
  const locks = await liveLocks(ctx.backend, { staleAfterMs: ctx.locking.staleAfterMs, clock: ctx.clock, host: ctx.locking.host, signal })
  return {
    ok: problems.length === 0,
    points: pointIds.length,
    chunks: chunks.size,
    chunkBytes,
    unreferencedChunks,
    unreferencedBytes,
    tempFiles,
    pointsInTrash: (await listTrash(ctx, signal)).length,
    locks: locks.length,
    problems,
  }
}
