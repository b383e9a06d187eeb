import { CHUNK_SIZE, chunkCount } from '../format.js'
import { RepositoryError } from '../errors.js'
import type { Extent } from '../../disks/block-source.js'

export interface ByteRange {
  readonly offset: number
  readonly length: number
}

/** Per chunk: how much of it is known to be zero without reading it. */
export const enum ZeroState {
  Unknown = 0,
  AllZero = 1,
  Mixed = 2,
}

export interface ZeroMap {
  readonly state: Uint8Array
  /** For Mixed chunks: the data ranges inside the chunk, relative to the chunk's start. */
  readonly dataRanges: Map<number, ByteRange[]>
}

/**
 * Turns a source's extents into a per-chunk zero map. Extents that are out of order, overlapping or out of bounds
 * are not trusted at all (the whole disk is then read), since a wrong "zero" would silently lose data.
 */
export async function buildZeroMap(size: number, extents: AsyncIterable<Extent>, signal?: AbortSignal): Promise<ZeroMap | undefined> {
  const n = chunkCount(size)
  const state = new Uint8Array(n)
  const dataRanges = new Map<number, ByteRange[]>()
  const zeroBytes = new Float64Array(n)
  let expected = 0
  const zeroRuns: ByteRange[] = []
  for await (const e of extents) {
    signal?.throwIfAborted()
    const valid = Number.isSafeInteger(e.offset) && Number.isSafeInteger(e.length) && e.length >= 0 && e.offset === expected && e.offset + e.length <= size
    if (!valid) return undefined
    expected += e.length
    if (e.kind === 'zero' && e.length > 0) zeroRuns.push({ offset: e.offset, length: e.length })
  }
  if (expected !== size) return undefined
  for (const run of zeroRuns) {
    const end = run.offset + run.length
    for (let i = Math.floor(run.offset / CHUNK_SIZE); i * CHUNK_SIZE < end; i++) {
      const cs = i * CHUNK_SIZE
      zeroBytes[i] = (zeroBytes[i] ?? 0) + Math.min(end, cs + CHUNK_SIZE) - Math.max(run.offset, cs)
    }
  }
  for (let i = 0; i < n; i++) {
    const length = Math.min(CHUNK_SIZE, size - i * CHUNK_SIZE)
    const z = zeroBytes[i] ?? 0
    state[i] = z >= length ? ZeroState.AllZero : z > 0 ? ZeroState.Mixed : ZeroState.Unknown
  }
  // Data ranges of mixed chunks: the complement of the zero runs inside each.
  for (const run of zeroRuns) {
    const end = run.offset + run.length
    for (let i = Math.floor(run.offset / CHUNK_SIZE); i * CHUNK_SIZE < end; i++) {
      if (state[i] !== ZeroState.Mixed) continue
      const cs = i * CHUNK_SIZE
      const list = dataRanges.get(i) ?? [{ offset: 0, length: Math.min(CHUNK_SIZE, size - cs) }]
      dataRanges.set(i, subtract(list, Math.max(run.offset, cs) - cs, Math.min(end, cs + CHUNK_SIZE) - cs))
    }
  }
  return { state, dataRanges }
}

function subtract(ranges: ByteRange[], start: number, end: number): ByteRange[] {
  const out: ByteRange[] = []
  for (const r of ranges) {
    const rEnd = r.offset + r.length
    if (end <= r.offset || start >= rEnd) out.push(r)
    else {
      if (start > r.offset) out.push({ offset: r.offset, length: start - r.offset })
      if (end < rEnd) out.push({ offset: end, length: rEnd - end })
    }
  }
  return out
}

/** Marks the chunks touched by the caller's changed ranges (relative to the parent point's disk). */
export function changedChunks(size: number, ranges: readonly ByteRange[]): Uint8Array {
  const n = chunkCount(size)
  const touched = new Uint8Array(n)
  for (const r of ranges) {
    if (!Number.isSafeInteger(r.offset) || !Number.isSafeInteger(r.length) || r.offset < 0 || r.length < 0) {
      throw new RepositoryError('INVALID_ARGUMENT', `A changed range (offset ${r.offset}, length ${r.length}) is invalid. Nothing was written.`, {
        offset: r.offset,
        length: r.length,
      })
    }
    if (r.length === 0 || r.offset >= size) continue
    const end = Math.min(size, r.offset + r.length)
    for (let i = Math.floor(r.offset / CHUNK_SIZE); i * CHUNK_SIZE < end; i++) touched[i] = 1
  }
  return touched
}

/**
 * Widens data ranges to whole chunks (ingest reads a chunk at a time, so a stream of whole chunks needs no piecing
 * together) and merges them; when more than `maxRuns` remain, the smallest gaps are closed until they fit (a
 * remote command names every run, so their number must stay small; a closed gap is read, costing bandwidth only).
 * Ranges must already be valid (see rangesInOrder).
 */
export function alignToChunks(ranges: readonly ByteRange[], size: number, maxRuns: number): ByteRange[] {
  const runs: { start: number; end: number }[] = []
  for (const r of ranges) {
    if (r.length <= 0) continue
    const start = Math.floor(r.offset / CHUNK_SIZE) * CHUNK_SIZE
    const end = Math.min(size, Math.ceil((r.offset + r.length) / CHUNK_SIZE) * CHUNK_SIZE)
    const last = runs.at(-1)
    if (last !== undefined && start <= last.end) last.end = Math.max(last.end, end)
    else runs.push({ start, end })
  }
  if (runs.length > maxRuns) {
    // The gap length at which runs.length - maxRuns gaps (the smallest) are closed.
    const gaps = runs.slice(1).map((r, k) => r.start - (runs[k]?.end ?? 0)).sort((a, b) => a - b)
    const limit = gaps[runs.length - Math.max(1, maxRuns) - 1] ?? 0
    let closable = runs.length - Math.max(1, maxRuns)
    const merged: { start: number; end: number }[] = []
    for (const r of runs) {
      const last = merged.at(-1)
      if (last !== undefined && closable > 0 && r.start - last.end <= limit) {
        last.end = r.end
        closable--
      } else merged.push({ ...r })
    }
    return merged.map((r) => ({ offset: r.start, length: r.end - r.start }))
  }
  return runs.map((r) => ({ offset: r.start, length: r.end - r.start }))
}
