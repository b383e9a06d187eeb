import { randomBytes } from 'node:crypto'
import { CHUNK_SIZE, chunkCount, chunkKey, newPointId, FORMAT_VERSION, MAX_DISK_SIZE, MAX_DISKS_PER_POINT } from '../format.js'
import { RepositoryError, cancelledError, toRepositoryError } from '../errors.js'
import { lockRepository } from '../repo-lock.js'
import { loadReusableChunks } from '../chunk-index.js'
import { loadManifest, writeManifest } from '../points.js'
import { chunkListSha256 } from '../manifest.js'
import { buildZeroMap, changedChunks, ZeroState, type ByteRange, type ZeroMap } from './chunk-plan.js'
import { StreamSource } from './stream-source.js'
import { rangesInOrder, SparseStreamSource } from './sparse-stream-source.js'
import { KnownTable } from '../workers/known-table.js'
import { BufferPool, canReadInto, canReadMoving } from './read-into.js'
import type { BlockSource } from '../../disks/block-source.js'
import type { ProgressSink } from '../../common/progress.js'
import type { RepoContext } from '../context.js'
import type { BackupMode, Consistency, DiskRecord, JsonValue, PointManifest, PointStats, PointSummary, SourceHost, VmInfo } from '../types.js'
import { summarize } from '../types.js'

export type IngestDisk =
  | {
      readonly name: string
      readonly source: BlockSource
      /** Ranges changed since the same-named disk of `parentId` (CBT, RCT, dirty bitmaps). Omit to hash everything. */
      readonly changedRanges?: readonly ByteRange[]
      readonly meta?: JsonValue
    }
  | {
      readonly name: string
      readonly stream: AsyncIterable<Uint8Array>
      readonly size: number
      /**
       * The stream carries only these ranges of the disk, concatenated in order (a host's allocation map); the rest
       * is known to read as zeros and is never sent. Omit when the stream is the whole disk.
       */
      readonly dataRanges?: readonly ByteRange[]
      readonly meta?: JsonValue
    }

export interface IngestOptions {
  readonly vm: VmInfo
  readonly sourceHost: SourceHost
  readonly mode: BackupMode
  readonly consistency: Consistency
  readonly disks: readonly IngestDisk[]
  /** The point this one follows; required when changed ranges are given. */
  readonly parentId?: string
  readonly signal?: AbortSignal
  readonly progress?: ProgressSink
}

interface Counters {
  bytesRead: number
  bytesNew: number
  bytesStored: number
  chunksNew: number
  chunksReused: number
  chunksZero: number
  chunksFromParent: number
  /** Bytes skipped because the source's allocation map says they are holes: never read. */
  bytesHoles: number
  /** Bytes read that turned out to be whole zero chunks. */
  bytesZero: number
  bytesDone: number
}

/** Chunks read ahead of the one being handed to the workers. */
const READ_AHEAD = 2

const LEFT_BEHIND = 'No restore point was written; chunks already stored are reclaimed by the next garbage collection.'

/**
 * Backs up disks into a new restore point. Pipeline per disk: read 4 MiB → hash (worker) → skip if known →
 * compress + encrypt (worker) → put. At most `window` chunks are in flight, so memory stays bounded whatever the
 * disk size (FORMAT.md "Memory bound of ingest"). The manifest is written last; until then the point does not exist.
 */
export async function ingest(ctx: RepoContext, options: IngestOptions): Promise<PointSummary> {
  const { signal } = options
  const progress = options.progress ?? (() => undefined)
  validateOptions(options)
  const startedAt = new Date(ctx.clock())
  // The workers load while the lock is taken, the stored chunks are listed and the disk's holes are mapped.
  ctx.codec.warm()
  await using lock = await lockRepository(ctx, 'ingest', `backup of ${options.vm.name}`, signal)
  try {
    const { reusable } = await loadReusableChunks(ctx, signal)
    const parent = options.parentId === undefined ? undefined : await loadParent(ctx, options.parentId, signal)
    const counters: Counters = { bytesRead: 0, bytesNew: 0, bytesStored: 0, chunksNew: 0, chunksReused: 0, chunksZero: 0, chunksFromParent: 0, bytesHoles: 0, bytesZero: 0, bytesDone: 0 }
    const bytesTotal = options.disks.reduce((sum, d) => sum + ('source' in d ? d.source.size : d.size), 0)
    const writer = new ChunkWriter(ctx, reusable, counters, signal, options.disks.reduce((sum, d) => sum + chunkCount('source' in d ? d.source.size : d.size), 0))
    const disks: DiskRecord[] = []
    try {
      for (const [index, disk] of options.disks.entries()) {
        const detail = `disk ${index + 1} of ${options.disks.length}: ${disk.name}`
        const report = (): void => progress({ phase: 'backup', bytesDone: counters.bytesDone, bytesTotal, bytesNew: counters.bytesNew, detail })
        const parentDisk = parent?.disks.find((d) => d.name === disk.name)
        disks.push(await ingestDisk(disk, parentDisk, writer, reusable, counters, report, signal))
      }
    } finally {
      // Never leave puts running behind a released lock.
      await writer.settle()
    }
    await lock.assertHeld(signal)
    // Chunks first, then the manifest: flush makes every chunk durable before the point can refer to it.
    await ctx.backend.flush(signal)
    const stats: PointStats = {
      bytesRead: counters.bytesRead,
      bytesNew: counters.bytesNew,
      bytesStored: counters.bytesStored,
      chunksNew: counters.chunksNew,
      chunksReused: counters.chunksReused,
      chunksZero: counters.chunksZero,
      chunksFromParent: counters.chunksFromParent,
      bytesHoles: counters.bytesHoles,
      bytesZero: counters.bytesZero,
    }
    const manifest: PointManifest = {
      format: 'lifeboat-point',
      version: FORMAT_VERSION,
      id: newPointId(startedAt, randomBytes(4)),
      parentId: parent?.id ?? null,
      chunkSize: CHUNK_SIZE,
      vm: options.vm,
      sourceHost: options.sourceHost,
      mode: options.mode,
      consistency: options.consistency,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date(ctx.clock()).toISOString(),
      disks,
      stats,
    }
    if (signal?.aborted === true) throw cancelledError(LEFT_BEHIND)
    await writeManifest(ctx, manifest, signal)
    progress({ phase: 'backup', bytesDone: bytesTotal, bytesTotal, bytesNew: counters.bytesNew, detail: 'restore point written' })
    return summarize(manifest)
  } catch (error) {
    const e = toRepositoryError(error, 'writing a backup')
    if (e.code === 'CANCELLED') throw cancelledError(LEFT_BEHIND)
    if (e.code === 'NO_SPACE') {
      throw new RepositoryError('NO_SPACE', `The repository at ${ctx.backend.label} is full. ${LEFT_BEHIND} Earlier restore points are intact.`, e.params, { cause: e })
    }
    throw e
  }
}

/**
 * The parent point for changed-range incrementals. A parent that is gone or damaged must not stop the backup: it
 * only means every chunk is read and hashed (a full backup that still deduplicates), recorded without parent.
 */
async function loadParent(ctx: RepoContext, parentId: string, signal?: AbortSignal): Promise<PointManifest | undefined> {
  try {
    return await loadManifest(ctx, parentId, signal)
  } catch (error) {
    if (error instanceof RepositoryError && (error.code === 'POINT_NOT_FOUND' || error.code === 'CORRUPT_MANIFEST')) return undefined
    throw error
  }
}

function validateOptions(options: IngestOptions): void {
  const bad = (message: string): never => {
    throw new RepositoryError('INVALID_ARGUMENT', `${message} Nothing was written.`)
  }
  if (options.disks.length === 0 || options.disks.length > MAX_DISKS_PER_POINT) bad(`A restore point needs between 1 and ${MAX_DISKS_PER_POINT} disks.`)
  const names = new Set<string>()
  for (const d of options.disks) {
    if (d.name.length === 0 || d.name.length > 1024 || names.has(d.name)) bad(`Disk names must be unique and non-empty ("${d.name.slice(0, 80)}").`)
    names.add(d.name)
    const size = 'source' in d ? d.source.size : d.size
    if (!Number.isSafeInteger(size) || size < 0 || size > MAX_DISK_SIZE) bad(`Disk "${d.name}" has an unsupported size (${size}).`)
    if ('changedRanges' in d && d.changedRanges !== undefined && options.parentId === undefined) bad(`Disk "${d.name}" has changed ranges but no parent point was given.`)
    if ('dataRanges' in d && d.dataRanges !== undefined && !rangesInOrder(d.dataRanges, size)) bad(`Disk "${d.name}" has data ranges that are out of order, overlapping or outside the disk.`)
  }
}

async function ingestDisk(
  disk: IngestDisk,
  parentDisk: DiskRecord | undefined,
  writer: ChunkWriter,
  reusable: ReadonlySet<string>,
  counters: Counters,
  report: () => void,
  signal: AbortSignal | undefined,
): Promise<DiskRecord> {
  const size = 'source' in disk ? disk.source.size : disk.size
  const n = chunkCount(size)
  const chunks: (string | null)[] = new Array<string | null>(n).fill(null)
  const lengthOf = (i: number): number => Math.min(CHUNK_SIZE, size - i * CHUNK_SIZE)
  const record = (): DiskRecord => {
    const r: DiskRecord = { name: disk.name, size, chunks, chunkListSha256: chunkListSha256(size, chunks) }
    return disk.meta === undefined ? r : { ...r, meta: disk.meta }
  }

  // A stream is read like a source that only goes forward: same buffers, same read-ahead (see StreamSource).
  let streamed: StreamSource | undefined
  let source: BlockSource
  if ('stream' in disk) {
    const ranges = disk.dataRanges
    const streamSize = ranges === undefined ? disk.size : ranges.reduce((sum, r) => sum + r.length, 0)
    streamed = new StreamSource(disk.stream, streamSize, `The stream of disk "${disk.name}"`)
    source = ranges === undefined ? streamed : new SparseStreamSource(streamed, disk.size, ranges)
  } else source = disk.source
  try {
    const changedRanges = 'changedRanges' in disk ? disk.changedRanges : undefined
    await ingestChunks({ source, changedRanges, chunks, lengthOf, parentDisk, writer, reusable, counters, report, signal })
    await streamed?.expectEmpty(signal)
  } finally {
    await streamed?.close()
  }
  if (signal?.aborted === true) throw cancelledError(LEFT_BEHIND)
  return record()
}

interface ChunkLoop {
  readonly source: BlockSource
  readonly changedRanges: readonly ByteRange[] | undefined
  /** The disk's chunk list, filled in as chunks are done. */
  readonly chunks: (string | null)[]
  readonly lengthOf: (i: number) => number
  readonly parentDisk: DiskRecord | undefined
  readonly writer: ChunkWriter
  readonly reusable: ReadonlySet<string>
  readonly counters: Counters
  readonly report: () => void
  readonly signal: AbortSignal | undefined
}

/** Reads (ahead), hashes and stores the chunks of one disk that are neither zero nor taken from the parent. */
async function ingestChunks(loop: ChunkLoop): Promise<void> {
  const { source, changedRanges, chunks, lengthOf, parentDisk, writer, reusable, counters, report, signal } = loop
  const n = chunks.length
  const size = source.size
  const touched = changedRanges === undefined ? undefined : changedChunks(size, changedRanges)
  const zeroMap: ZeroMap | undefined = source.extents === undefined ? undefined : await buildZeroMap(size, source.extents(signal), signal)
  /** The parent's entry when chunk i is unchanged and can be taken without reading; undefined otherwise. */
  const fromParent = (i: number): { entry: string | null } | undefined => {
    if (touched === undefined || parentDisk === undefined || touched[i] !== 0 || i >= parentDisk.chunks.length) return undefined
    const entry = parentDisk.chunks[i]
    const sameExtent = Math.min(CHUNK_SIZE, parentDisk.size - i * CHUNK_SIZE) === lengthOf(i)
    return sameExtent && entry !== undefined && (entry === null || reusable.has(entry)) ? { entry } : undefined
  }
  const needsRead = (i: number): boolean => fromParent(i) === undefined && zeroMap?.state[i] !== ZeroState.AllZero
  const rangesOf = (i: number): readonly ByteRange[] | undefined => (zeroMap?.state[i] === ZeroState.Mixed ? (zeroMap.dataRanges.get(i) ?? []) : undefined)
  const readAt = async (i: number): Promise<Buffer> => {
    const ranges = rangesOf(i)
    const length = lengthOf(i)
    let data: Buffer
    if (ranges !== undefined) data = await readMixed(source, i, length, ranges, writer.pool, signal)
    else if (length === CHUNK_SIZE && canReadMoving(source)) data = await source.readMoving(writer.pool.take(), i * CHUNK_SIZE, signal)
    else if (length === CHUNK_SIZE && canReadInto(source)) {
      data = writer.pool.take()
      await source.readInto(data, i * CHUNK_SIZE, signal)
    } else data = await source.read(i * CHUNK_SIZE, length, signal)
    if (data.length !== lengthOf(i)) throw new RepositoryError('BACKEND_ERROR', `${source.label} returned ${data.length} bytes where ${lengthOf(i)} were asked for.`)
    return data
  }
  // Reads run ahead of hashing (READ_AHEAD chunks), so the workers never wait for the source between chunks.
  const ahead = new Map<number, Promise<Buffer>>()
  let scan = 0
  const readAhead = (from: number): void => {
    scan = Math.max(scan, from)
    while (ahead.size < READ_AHEAD && scan < n) {
      const j = scan++
      if (!needsRead(j)) continue
      const pending = readAt(j)
      pending.catch(() => undefined)
      ahead.set(j, pending)
    }
  }
  for (let i = 0; i < n; i++) {
    if (signal?.aborted === true) break
    const length = lengthOf(i)
    const parentEntry = fromParent(i)
    if (parentEntry !== undefined) {
      chunks[i] = parentEntry.entry
      counters.chunksFromParent++
      counters.bytesDone += length
      report()
      continue
    }
    if (zeroMap?.state[i] === ZeroState.AllZero) {
      counters.chunksZero++
      counters.bytesHoles += length
      counters.bytesDone += length
      report()
      continue
    }
    readAhead(i)
    const data = await (ahead.get(i) ?? readAt(i))
    ahead.delete(i)
    readAhead(i + 1)
    const ranges = rangesOf(i)
    const read = ranges === undefined ? length : ranges.reduce((sum, r) => sum + r.length, 0)
    counters.bytesRead += read
    counters.bytesHoles += length - read
    const index = i
    await writer.submit(data, read, (id) => {
      chunks[index] = id
      report()
    })
  }
  await writer.drain()
}

async function readMixed(source: BlockSource, index: number, length: number, ranges: readonly ByteRange[], pool: BufferPool, signal?: AbortSignal): Promise<Buffer> {
  const out = length === CHUNK_SIZE ? zeroGaps(pool.take(), ranges) : Buffer.alloc(length)
  // All pieces are asked for at once: a source read in order (a sparse stream) must see them claimed in order,
  // before the next chunk's read-ahead claims its place. A source that reads into our memory fills its place in `out`.
  if (canReadInto(source)) {
    await Promise.all(ranges.map((r) => source.readInto(out.subarray(r.offset, r.offset + r.length), index * CHUNK_SIZE + r.offset, signal)))
    return out
  }
  const pieces = await Promise.all(ranges.map((r) => source.read(index * CHUNK_SIZE + r.offset, r.length, signal)))
  ranges.forEach((r, k) => out.set(pieces[k] ?? Buffer.alloc(0), r.offset))
  return out
}

/**
 * Zeroes the parts of a recycled chunk buffer that no data range will fill (buildZeroMap gives them in order, without
 * overlap; anything else gets the whole buffer zeroed, so no byte of an earlier chunk can ever leak into this one).
 */
function zeroGaps(out: Buffer, ranges: readonly ByteRange[]): Buffer {
  let at = 0
  for (const r of ranges) {
    if (r.offset < at) return out.fill(0)
    if (r.offset > at) out.fill(0, at, r.offset)
    at = r.offset + r.length
  }
  if (at < out.length) out.fill(0, at)
  return out
}

/**
 * Runs the hash → dedup → seal → put steps with at most `window` chunks in flight. submit() waits for a free
 * slot, which is the backpressure that keeps a fast reader from outrunning compression or a slow backend.
 */
class ChunkWriter {
  private readonly window: number
  private readonly inFlight = new Set<Promise<void>>()
  /** Chunks being written by this backup: a second copy of the same content waits for the first instead. */
  private readonly writing = new Map<string, Promise<void>>()
  private failure: Error | undefined

  private readonly table: KnownTable
  /** Chunk buffers coming back from the workers, reused for reads when the source can read into them. */
  readonly pool: BufferPool

  constructor(
    private readonly ctx: RepoContext,
    private readonly known: Set<string>,
    private readonly counters: Counters,
    private readonly signal: AbortSignal | undefined,
    plannedChunks: number,
  ) {
    this.window = ctx.codec.parallelism * 2 + 2
    this.pool = new BufferPool(CHUNK_SIZE, this.window + READ_AHEAD)
    this.table = KnownTable.create(known.size + plannedChunks)
    for (const id of known) this.table.add(id)
  }

  /** `read`: how many of the chunk's bytes came from the source (the rest were holes filled in as zeros). */
  async submit(data: Buffer, read: number, done: (id: string | null) => void): Promise<void> {
    this.throwIfFailed()
    while (this.inFlight.size >= this.window) await Promise.race(this.inFlight)
    this.throwIfFailed()
    const length = data.length
    const task = this.process(data, read).then(
      (id) => {
        this.counters.bytesDone += length
        done(id)
      },
      (error: unknown) => {
        this.failure ??= error instanceof Error ? error : new Error(String(error))
      },
    )
    this.inFlight.add(task)
    void task.finally(() => this.inFlight.delete(task))
  }

  async drain(): Promise<void> {
    await Promise.all(this.inFlight)
    this.throwIfFailed()
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure
  }

  /** Waits for every chunk in flight, ignoring their errors: used on the way out of a failed backup. */
  async settle(): Promise<void> {
    await Promise.allSettled(this.inFlight)
  }

  private async process(input: Buffer, read: number): Promise<string | null> {
    const length = input.length
    const { id, sealed, memory } = await this.ctx.codec.ingest(input, this.table)
    if (id === null) {
      this.pool.give(memory)
      this.counters.chunksZero++
      this.counters.bytesZero += read
      return null
    }
    // Known when it was hashed, or stored by another chunk of this backup meanwhile: nothing to write.
    const pending = this.writing.get(id)
    if (sealed === undefined || this.known.has(id) || pending !== undefined) {
      this.pool.give(memory)
      await pending
      this.counters.chunksReused++
      return id
    }
    // Publish the id before writing, so the workers stop sealing further copies of the same content.
    this.table.add(id)
    const write = (async () => {
      this.signal?.throwIfAborted()
      await this.ctx.backend.put(chunkKey(id), sealed, this.signal)
      this.counters.chunksNew++
      this.counters.bytesNew += length
      this.counters.bytesStored += sealed.reduce((sum, part) => sum + part.length, 0)
      this.known.add(id)
    })()
    this.writing.set(id, write)
    try {
      await write
      this.pool.give(memory)
    } finally {
      this.writing.delete(id)
    }
    return id
  }
}
