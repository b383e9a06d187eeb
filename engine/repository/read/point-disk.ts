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
}

const ZEROS = Buffer.alloc(CHUNK_SIZE)

/**
 * A disk of a restore point as a random-access BlockSource: what file-level restore browses and what exports read.
 * Every chunk is verified on its way in; a damaged one makes the read throw — it never yields wrong bytes.
 */
export class PointDiskSource implements BlockSource {
  readonly size: number
  readonly label: string
  private readonly cache = new Map<number, Buffer>()
  private readonly loading = new Map<number, Promise<Buffer>>()
  private readonly cacheChunks: number
  private readonly parallelReads: number
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
  }

  get chunkList(): readonly (string | null)[] {
    return this.disk.chunks
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    assertReadInBounds(this, offset, length)
    if (this.closed) throw new Error(`${this.label} is closed`)
    const out = Buffer.allocUnsafe(length)
    if (length === 0) return out
    const first = Math.floor(offset / CHUNK_SIZE)
    const last = Math.floor((offset + length - 1) / CHUNK_SIZE)
    const indices: number[] = []
    for (let i = first; i <= last; i++) indices.push(i)
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < indices.length) {
        const i = indices[next++] ?? 0
        const data = await this.chunk(i, signal)
        const cs = i * CHUNK_SIZE
        const from = Math.max(offset, cs)
        const to = Math.min(offset + length, cs + data.length)
        data.copy(out, from - offset, from - cs, to - cs)
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.parallelReads, indices.length) }, worker))
    return out
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
