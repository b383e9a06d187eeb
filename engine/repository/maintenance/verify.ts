import { runLanes } from '../../common/lanes.js'
import { CHUNK_SIZE } from '../format.js'
import { RepositoryError, throwIfCancelled } from '../errors.js'
import { listPointIds, loadManifest } from '../points.js'
import { readChunk } from '../read/chunk-reader.js'
import type { ProgressSink } from '../../common/progress.js'
import type { RepoContext } from '../context.js'

export interface VerifyOptions {
  readonly signal?: AbortSignal
  readonly progress?: ProgressSink
  /** Verify only these restore points and the chunks they use (default: every point); one that is not there is an error. */
  readonly pointIds?: readonly string[]
}

export interface DamagedChunk {
  readonly id: string
  readonly problem: 'missing' | 'corrupt'
  readonly detail: string
}

export interface DamagedPoint {
  readonly pointId: string
  /** Why the point is damaged: its manifest, or chunks of its disks (index and byte offset within the disk). */
  readonly manifestProblem?: string
  readonly disks: readonly { readonly disk: string; readonly chunks: readonly { readonly index: number; readonly offset: number; readonly id: string }[] }[]
}

export interface VerifyReport {
  readonly ok: boolean
  readonly pointsChecked: number
  readonly chunksChecked: number
  readonly bytesChecked: number
  readonly damagedChunks: readonly DamagedChunk[]
  readonly damagedPoints: readonly DamagedPoint[]
}

/**
 * Reads every chunk referenced by any restore point (or by the points asked for) once, re-hashing it (and checking its GCM tag when encrypted),
 * and reports exactly which points and which chunks of which disks are damaged. Read-only: takes no lock.
 */
export async function verify(ctx: RepoContext, options: VerifyOptions = {}): Promise<VerifyReport> {
  const { signal } = options
  const progress = options.progress ?? (() => undefined)
  const refs = new Map<string, { pointId: string; disk: string; index: number; length: number }[]>()
  type DamageEntry = { manifestProblem?: string; disks: Map<string, { index: number; offset: number; id: string }[]> }
  const damagedPoints = new Map<string, DamageEntry>()
  const pointIds = options.pointIds === undefined ? await listPointIds(ctx, signal) : [...new Set(options.pointIds)]
  let pointsChecked = 0
  for (const pointId of pointIds) {
    throwIfCancelled(signal)
    try {
      const m = await loadManifest(ctx, pointId, signal)
      for (const d of m.disks) {
        d.chunks.forEach((id, index) => {
          if (id === null) return
          const list = refs.get(id) ?? []
          list.push({ pointId, disk: d.name, index, length: Math.min(CHUNK_SIZE, d.size - index * CHUNK_SIZE) })
          refs.set(id, list)
        })
      }
    } catch (error) {
      if (!(error instanceof RepositoryError) || (error.code !== 'CORRUPT_MANIFEST' && error.code !== 'POINT_NOT_FOUND')) throw error
      // Asked for by name, a point that is not there is the answer, not something pruned meanwhile.
      if (error.code === 'POINT_NOT_FOUND' && options.pointIds !== undefined) throw error
      if (error.code === 'CORRUPT_MANIFEST') damagedPoints.set(pointId, { manifestProblem: String(error.params.reason ?? error.message), disks: new Map() })
      else continue
    }
    pointsChecked++
  }

  const ids = [...refs.keys()]
  const bytesTotal = ids.reduce((sum, id) => sum + (refs.get(id)?.[0]?.length ?? 0), 0)
  const damagedChunks: DamagedChunk[] = []
  let bytesChecked = 0
  await runLanes(
    ids.length,
    Math.max(1, ctx.codec.parallelism * 2),
    async (index, laneSignal) => {
      throwIfCancelled(laneSignal)
      const id = ids[index] ?? ''
      const places = refs.get(id) ?? []
      const length = places[0]?.length ?? 0
      try {
        await readChunk(ctx, id, length, undefined, laneSignal)
        // The same content at a position of another length would be a hash collision; check it anyway.
        if (places.some((p) => p.length !== length)) throw new RepositoryError('CORRUPT_CHUNK', 'referenced with different lengths', { id, reason: 'referenced with different lengths' })
      } catch (error) {
        if (!(error instanceof RepositoryError) || (error.code !== 'CORRUPT_CHUNK' && error.code !== 'MISSING_CHUNK')) throw error
        damagedChunks.push({ id, problem: error.code === 'MISSING_CHUNK' ? 'missing' : 'corrupt', detail: String(error.params.reason ?? error.message) })
        for (const p of places) {
          const entry: DamageEntry = damagedPoints.get(p.pointId) ?? { disks: new Map<string, { index: number; offset: number; id: string }[]>() }
          const list = entry.disks.get(p.disk) ?? []
          list.push({ index: p.index, offset: p.index * CHUNK_SIZE, id })
          entry.disks.set(p.disk, list)
          damagedPoints.set(p.pointId, entry)
        }
      }
      bytesChecked += length
      progress({ phase: 'verify', bytesDone: bytesChecked, bytesTotal })
    },
    signal,
  )

  const points: DamagedPoint[] = [...damagedPoints.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([pointId, e]) => ({
      pointId,
      ...(e.manifestProblem === undefined ? {} : { manifestProblem: e.manifestProblem }),
      disks: [...e.disks.entries()].map(([disk, chunks]) => ({ disk, chunks: chunks.sort((a, b) => a.index - b.index) })),
    }))
  return {
    ok: points.length === 0 && damagedChunks.length === 0,
    pointsChecked,
    chunksChecked: ids.length,
    bytesChecked,
    damagedChunks: damagedChunks.sort((a, b) => a.id.localeCompare(b.id)),
    damagedPoints: points,
  }
}
