import { FilesystemError } from './errors'
import type { DataPiece } from './types'
import type { VolumeReader } from './volume-reader'

/**
 * A stretch of a file: `length` bytes at file offset `logical`, stored at volume byte `physical`, or a hole
 * (physical null) that reads as zeros. Drivers translate their extent trees / runlists / chains into these.
 */
export interface DataRun {
  readonly logical: number
  readonly length: number
  readonly physical: number | null
}

const MAX_READ = 4 * 1024 * 1024

/**
 * Streams [start, end) of a file described by runs in ascending logical order. Adjacent runs that are also
 * adjacent on disk are merged into reads of up to 4 MiB, and the next read starts while the caller consumes the
 * current one: large sequential reads with one in flight keep a local disk or a ranged remote source busy.
 */
export async function* streamRuns(reader: VolumeReader, runs: AsyncIterable<DataRun> | Iterable<DataRun>, start: number, end: number, signal?: AbortSignal): AsyncIterable<Buffer> {
  const pieces = planReads(runs, start, end)
  let pending: Promise<Buffer> | undefined
  const fetch = (p: DataRun): Promise<Buffer> =>
    p.physical === null ? Promise.resolve(Buffer.alloc(p.length)) : reader.data(p.physical, p.length, 'file data', signal)
  for await (const piece of pieces) {
    signal?.throwIfAborted()
    const next = fetch(piece)
    next.catch(() => undefined)
    if (pending) yield await pending
    pending = next
  }
  // The consumer may have aborted while holding the previous chunk; do not hand it one more.
  signal?.throwIfAborted()
  if (pending) yield await pending
}

/**
 * Like streamRuns, but yields only the stored data with its file offset: holes (unallocated or unwritten runs, gaps)
 * are skipped without allocating or reading anything.
 */
export async function* streamRunData(reader: VolumeReader, runs: AsyncIterable<DataRun> | Iterable<DataRun>, start: number, end: number, signal?: AbortSignal): AsyncIterable<DataPiece> {
  let pending: Promise<DataPiece> | undefined
  for await (const piece of planReads(runs, start, end)) {
    signal?.throwIfAborted()
    const physical = piece.physical
    if (physical === null) continue
    const next = reader.data(physical, piece.length, 'file data', signal).then((data) => ({ offset: piece.logical, data }))
    next.catch(() => undefined)
    if (pending) yield await pending
    pending = next
  }
  signal?.throwIfAborted()
  if (pending) yield await pending
}

async function* planReads(runs: AsyncIterable<DataRun> | Iterable<DataRun>, start: number, end: number): AsyncIterable<DataRun> {
  let pos = start
  let acc: { logical: number; length: number; physical: number | null } | undefined
  const flush = function* (force: boolean): Generator<DataRun> {
    while (acc && (force || acc.length >= MAX_READ)) {
      const n = Math.min(acc.length, MAX_READ)
      yield { logical: acc.logical, length: n, physical: acc.physical }
      acc = acc.length === n ? undefined : { logical: acc.logical + n, length: acc.length - n, physical: acc.physical === null ? null : acc.physical + n }
    }
  }
  const add = function* (r: DataRun): Generator<DataRun> {
    if (acc && acc.logical + acc.length === r.logical && (acc.physical === null ? r.physical === null : r.physical === acc.physical + acc.length)) {
      acc.length += r.length
    } else {
      yield* flush(true)
      acc = { ...r }
    }
    yield* flush(false)
  }
  for await (const run of runs) {
    if (pos >= end) break
    const runEnd = run.logical + run.length
    if (runEnd <= pos) continue
    if (run.logical > pos) {
      // A gap between runs: a hole the driver did not spell out (sparse file, unwritten extent).
      const gapEnd = Math.min(run.logical, end)
      yield* add({ logical: pos, length: gapEnd - pos, physical: null })
      pos = gapEnd
      if (pos >= end) break
    }
    const from = Math.max(pos, run.logical)
    const to = Math.min(runEnd, end)
    if (to > from) {
      yield* add({ logical: from, length: to - from, physical: run.physical === null ? null : run.physical + (from - run.logical) })
      pos = to
    }
  }
  if (pos < end) yield* add({ logical: pos, length: end - pos, physical: null })
  yield* flush(true)
}

/** Checks a caller's byte range against a file size and returns it with defaults filled in. */
export function clampRange(size: number, start = 0, end = size): { start: number; end: number } {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new FilesystemError('invalid-argument', `Invalid byte range ${start}–${end}`, { start, end })
  }
  return { start: Math.min(start, size), end: Math.min(end, size) }
}
