import { runLanes } from '../../common/lanes.js'
import { assertReadInBounds, type BlockSource, type Extent } from '../../disks/block-source.js'
import { CHUNK_SIZE } from '../format.js'
import { readChunk } from './chunk-reader.js'
import type { RepoContext } from '../context.js'
import type { DiskRecord, PointManifest } from '../types.js'

export interface PointDiskOptions {
  /** Decoded chunks kept in memory (4 MiB each). */
  readonly cacheChunks?: number
  /** Chunks fetched at once for one read. */
  readonly parallelReads?: number
  /**
   * Chunks fetched and decoded ahead of a sequential reader (one read continuing where the last ended): without it a
   * reader that asks for a few MiB at a time (a file streamed out of a filesystem, NBD) keeps one decode worker busy
   * and waits for every chunk in turn. Bounded by the cache, which holds them. Default: readsAhead (two per codec
   * worker, more on SFTP and S3).
   */
  readonly readAhead?: number
}

const ZEROS = Buffer.alloc(CHUNK_SIZE)

/**
 * Chunks a reader streaming a disk out keeps loading ahead: two per codec worker (enough to keep them busy), or more
 * where the storage is across a network (its backend's readsInFlight, at most 32).
 */
export function readsAhead(ctx: RepoContext): number {
  return Math.max(ctx.codec.parallelism * 2, Math.min(32, ctx.backend.readsInFlight ?? 0))
}

/** How far past a hole a sequential reader is followed, and read ahead looks for stored chunks (4 GiB of zeros). */
const HOLE_SCAN_CHUNKS = 1024

/**
 * A disk of a restore point as a random-access BlockSource: what file-level restore browses and what exports read.
 * Every chunk is verified on its way in; a damaged one makes the read throw — it never yields wrong bytes.
 */
export class PointDiskSource implements BlockSource {
  readonly size: number
  readonly label: string
  private readonly cache = new Map<number, Buffer>()
  private readonly loading = new Map<number, Promise<Buffer>>()
  /** Chunks handed out by takeChunk and not given back: the only ones recycle() passes on. */
  private readonly taken = new WeakSet<Buffer>()
  private readonly cacheChunks: number
  private readonly parallelReads: number
  private readonly readAhead: number
  /** Where the previous read ended: a read starting there (or a little further on) is a sequential reader's. */
  private lastEnd = -1
  private closed = false

  constructor(
    private readonly ctx: RepoContext,
    private readonly point: PointManifest,
    private readonly disk: DiskRecord,
    options: PointDiskOptions = {},
  ) {
    this.size = disk.size
    this.label = `disk "${disk.name}" of restore point ${point.id}`
    this.cacheChunks = Math.max(1, options.cacheChunks ?? 8)
    this.parallelReads = Math.max(1, options.parallelReads ?? 4)
    // The chunks of the read in hand (two when it straddles a boundary) stay cached beside those loading ahead.
    this.readAhead = Math.max(0, Math.min(options.readAhead ?? Math.max(2, readsAhead(ctx)), this.cacheChunks - 2))
  }

  get chunkList(): readonly (string | null)[] {
    return this.disk.chunks
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    return await this.readBytes(offset, length, false, signal)
  }

  /**
   * Like read, but a read inside one chunk is a view of the cached chunk instead of a copy: the caller must not
   * modify the bytes (a server that only sends them, as NBD does). Saves a copy and an allocation per read, which
   * on a busy server is most of the garbage collector's work.
   */
  async readShared(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    return await this.readBytes(offset, length, true, signal)
  }

  private async readBytes(offset: number, length: number, shared: boolean, signal: AbortSignal | undefined): Promise<Buffer> {
    assertReadInBounds(this, offset, length)
    if (this.closed) throw new Error(`${this.label} is closed`)
    if (length === 0) return Buffer.alloc(0)
    const first = Math.floor(offset / CHUNK_SIZE)
    const last = Math.floor((offset + length - 1) / CHUNK_SIZE)
    const sequential = this.continues(offset)
    this.lastEnd = offset + length
    if (shared && first === last) {
      const loading = this.chunk(first, signal)
      if (sequential) this.loadAhead(last + 1, signal)
      const data = await loading
      const from = offset - first * CHUNK_SIZE
      return data.subarray(from, from + length)
    }
    const out = Buffer.allocUnsafe(length)
    const indices: number[] = []
    for (let i = first; i <= last; i++) indices.push(i)
    // Loads go through the shared cache, so they keep the caller's signal: one reader's failure must not cancel a
    // chunk another reader waits for. runLanes still stops taking new chunks and waits for all before rethrowing.
    const reading = runLanes(indices.length, this.parallelReads, async (n) => {
      const i = indices[n] ?? 0
      const data = await this.chunk(i, signal)
      const cs = i * CHUNK_SIZE
      const from = Math.max(offset, cs)
      const to = Math.min(offset + length, cs + data.length)
      data.copy(out, from - offset, from - cs, to - cs)
    })
    // After the read's own chunks have been asked for, so they are ahead of the read-ahead in the backend and codec queues.
    if (sequential) this.loadAhead(last + 1, signal)
    await reading
    return out
  }

  /**
   * Whether a read at `offset` continues the previous one: it starts where that ended or a little further on, or
   * further on with only all-zero chunks in between — a reader that skips holes (NBD clients do, told where they are)
   * still reads the disk in order.
   */
  private continues(offset: number): boolean {
    if (this.lastEnd < 0 || offset < this.lastEnd) return false
    if (offset - this.lastEnd < CHUNK_SIZE) return true
    const from = Math.floor(this.lastEnd / CHUNK_SIZE) + 1
    const to = Math.floor(offset / CHUNK_SIZE)
    if (to - from > HOLE_SCAN_CHUNKS) return false
    for (let i = from; i < to; i++) if (this.disk.chunks[i] !== null) return false
    return true
  }

  /**
   * Starts loading the next `readAhead` stored chunks from `from` on into the cache (all-zero chunks are skipped, not
   * counted: they need no loading); a failure there is left to the read that needs the chunk.
   */
  private loadAhead(from: number, signal: AbortSignal | undefined): void {
    const stop = Math.min(this.disk.chunks.length, from + HOLE_SCAN_CHUNKS)
    let wanted = this.readAhead
    for (let i = from; i < stop && wanted > 0; i++) {
      if (this.disk.chunks[i] === null) continue
      wanted--
      if (this.cache.has(i) || this.loading.has(i)) continue
      this.chunk(i, signal).catch(() => undefined)
    }
  }

  /** The decoded chunk at `index` (shared zeros for a zero chunk). Callers must not modify it. */
  async chunk(index: number, signal?: AbortSignal): Promise<Buffer> {
    const length = Math.min(CHUNK_SIZE, this.size - index * CHUNK_SIZE)
    const id = this.disk.chunks[index]
    if (id === null || id === undefined) return ZEROS.subarray(0, length)
    const hit = this.cache.get(index)
    if (hit !== undefined) {
      this.cache.delete(index)
      this.cache.set(index, hit)
      return hit
    }
    const pending = this.loading.get(index)
    if (pending !== undefined) return pending
    const load = readChunk(this.ctx, id, length, { pointId: this.point.id, disk: this.disk.name, index }, signal)
    this.loading.set(index, load)
    try {
      const data = await load
      if (this.closed) return data
      this.cache.set(index, data)
      while (this.cache.size > this.cacheChunks) {
        const oldest = this.cache.keys().next()
        if (oldest.done === true) break
        this.cache.delete(oldest.value)
      }
      return data
    } finally {
      this.loading.delete(index)
    }
  }

  /**
   * The chunk at `index` for a caller that streams each chunk once and gives it back with recycle() when done (an
   * export to a file): loaded past the cache, so nothing else holds it. A chunk already cached or loading for other
   * readers is shared as chunk() shares it, and recycle() then leaves it alone.
   */
  async takeChunk(index: number, signal?: AbortSignal): Promise<Buffer> {
    const length = Math.min(CHUNK_SIZE, this.size - index * CHUNK_SIZE)
    const id = this.disk.chunks[index]
    if (id === null || id === undefined || this.cache.has(index) || this.loading.has(index)) return await this.chunk(index, signal)
    const data = await readChunk(this.ctx, id, length, { pointId: this.point.id, disk: this.disk.name, index }, signal)
    this.taken.add(data)
    return data
  }

  /**
   * BlockSource.lend: a whole chunk comes from takeChunk and goes back with release(); any other range is a shared
   * view (readShared) whose release() does nothing.
   */
  async lend(offset: number, length: number, signal?: AbortSignal): Promise<{ readonly data: Buffer; release(): void }> {
    const index = Math.floor(offset / CHUNK_SIZE)
    if (offset !== index * CHUNK_SIZE || length !== Math.min(CHUNK_SIZE, this.size - offset) || length === 0) {
      return { data: await this.readShared(offset, length, signal), release: () => undefined }
    }
    assertReadInBounds(this, offset, length)
    if (this.closed) throw new Error(`${this.label} is closed`)
    const data = await this.takeChunk(index, signal)
    return { data, release: () => this.recycle(data) }
  }

  /** Gives a chunk from takeChunk back: its memory holds the next chunk read (see ChunkCodec.recycle). */
  recycle(chunk: Buffer): void {
    if (this.taken.delete(chunk)) this.ctx.codec.recycle(chunk)
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the BlockSource contract makes extents async
  async *extents(signal?: AbortSignal): AsyncIterable<Extent> {
    let run: { offset: number; length: number; kind: 'data' | 'zero' } | undefined
    for (let i = 0; i < this.disk.chunks.length; i++) {
      signal?.throwIfAborted()
      const kind = this.disk.chunks[i] === null ? 'zero' : 'data'
      const offset = i * CHUNK_SIZE
      const length = Math.min(CHUNK_SIZE, this.size - offset)
      if (run !== undefined && run.kind === kind) run.length += length
      else {
        if (run !== undefined) yield run
        run = { offset, length, kind }
      }
    }
    if (run !== undefined) yield run
  }

  close(): Promise<void> {
    this.closed = true
    this.cache.clear()
    return Promise.resolve()
  }
}
