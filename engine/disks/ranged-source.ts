import { raceAbort } from './abort'
import { assertReadInBounds, type BlockSource } from './block-source'
import { DiskFormatError } from './errors'
import { LruCache } from './lru-cache'

/** What a remote reader offers (SFTP file, exec-based range reader): one byte range per call. */
export type ReadRange = (offset: number, length: number, signal: AbortSignal) => Promise<Buffer>

export interface RangedSourceOptions {
  readonly size: number
  readonly label: string
  readonly readRange: ReadRange
  /** Unit of fetching and caching. 256 KiB amortises round trips without wasting much on small reads. */
  readonly blockSize?: number
  /** Cached blocks (LRU). 256 × 256 KiB = 64 MiB by default. */
  readonly cacheBlocks?: number
  /** Requests in flight at once; remote latency is hidden by overlapping, not by bigger requests. */
  readonly maxInFlight?: number
  readonly onClose?: () => Promise<void>
}

/**
 * Turns a slow random-access reader into a BlockSource: reads are split into aligned blocks, missing blocks are
 * fetched concurrently (bounded), concurrent readers of the same block share one request, and recent blocks
 * stay in a bounded cache. A fetch is not tied to any single caller's signal (another caller may share it);
 * close() aborts everything in flight.
 */
export class RangedSource implements BlockSource {
  readonly size: number
  readonly label: string
  private readonly blockSize: number
  private readonly maxInFlight: number
  private readonly cache: LruCache<number, Buffer>
  private readonly pending = new Map<number, Promise<Buffer>>()
  private readonly waiters: (() => void)[] = []
  private inFlight = 0
  private readonly lifetime = new AbortController()
  private closed = false

  constructor(private readonly options: RangedSourceOptions) {
    this.size = options.size
    this.label = options.label
    this.blockSize = options.blockSize ?? 256 * 1024
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 16)
    this.cache = new LruCache(Math.max(4, options.cacheBlocks ?? 256))
    if (!Number.isSafeInteger(this.blockSize) || this.blockSize < 512) throw new RangeError('blockSize must be an integer of at least 512')
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    assertReadInBounds(this, offset, length)
    if (this.closed) throw new DiskFormatError('io', `${this.label} is closed`)
    signal?.throwIfAborted()
    if (length === 0) return Buffer.alloc(0)
    const first = Math.floor(offset / this.blockSize)
    const last = Math.floor((offset + length - 1) / this.blockSize)
    const blocks = await raceAbort(Promise.all(range(first, last).map((b) => this.block(b))), signal)
    const out = Buffer.allocUnsafe(length)
    let pos = 0
    for (let i = 0; i < blocks.length; i++) {
      const block = blocks[i] ?? Buffer.alloc(0)
      const blockStart = (first + i) * this.blockSize
      const from = Math.max(offset, blockStart) - blockStart
      const to = Math.min(offset + length, blockStart + block.length) - blockStart
      block.copy(out, pos, from, to)
      pos += to - from
    }
    return out
  }

  private block(index: number): Promise<Buffer> {
    const cached = this.cache.get(index)
    if (cached) return Promise.resolve(cached)
    const existing = this.pending.get(index)
    if (existing) return existing
    const p = this.fetch(index).finally(() => this.pending.delete(index))
    this.pending.set(index, p)
    return p
  }

  private async fetch(index: number): Promise<Buffer> {
    await this.slot()
    try {
      const start = index * this.blockSize
      const len = Math.min(this.blockSize, this.size - start)
      const data = await this.options.readRange(start, len, this.lifetime.signal)
      if (data.length !== len) {
        throw new DiskFormatError('io', `${this.label}: remote read at ${start} returned ${data.length} bytes instead of ${len}`)
      }
      this.cache.set(index, data)
      return data
    } finally {
      this.release()
    }
  }

  private async slot(): Promise<void> {
    if (this.inFlight < this.maxInFlight) {
      this.inFlight++
      return
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve))
  }

  private release(): void {
    const next = this.waiters.shift()
    if (next) next()
    else this.inFlight--
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.lifetime.abort(new DOMException('Source closed', 'AbortError'))
    this.cache.clear()
    await this.options.onClose?.()
  }
}

function range(a: number, b: number): number[] {
  const out: number[] = []
  for (let i = a; i <= b; i++) out.push(i)
  return out
}
