import type { BlockSource } from '../disks/block-source'
import { LruCache } from '../disks/lru-cache'
import { FilesystemError } from './errors'

const CHUNK = 64 * 1024

/**
 * The one way a filesystem driver reads its volume. Metadata reads go through a cache of 64 KiB aligned chunks
 * (inode tables, directories, the MFT and FAT are read over and over); bulk file data bypasses it. Every offset
 * comes from the image and is checked here, so a damaged pointer is a FilesystemError, never a RangeError.
 */
export class VolumeReader {
  private readonly cache: LruCache<number, Buffer>

  constructor(
    readonly source: BlockSource,
    cacheChunks = 512,
  ) {
    this.cache = new LruCache(cacheChunks)
  }

  get size(): number {
    return this.source.size
  }
  get label(): string {
    return this.source.label
  }

  check(offset: number, length: number, what: string): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.source.size) {
      throw new FilesystemError('truncated', `${this.source.label}: ${what} at byte ${offset} (${length} bytes) lies outside the volume (${this.source.size} bytes)`, {
        offset,
        length,
      })
    }
  }

  /** Uncached read, for file data. */
  async data(offset: number, length: number, what: string, signal?: AbortSignal): Promise<Buffer> {
    this.check(offset, length, what)
    return this.source.read(offset, length, signal)
  }

  /** Cached read, for metadata. */
  async meta(offset: number, length: number, what: string, signal?: AbortSignal): Promise<Buffer> {
    this.check(offset, length, what)
    if (length > 4 * CHUNK) return this.source.read(offset, length, signal)
    const first = Math.floor(offset / CHUNK)
    const last = Math.floor((offset + length - 1) / CHUNK)
    if (length === 0) return Buffer.alloc(0)
    if (first === last) {
      const c = await this.chunk(first, signal)
      return c.subarray(offset - first * CHUNK, offset - first * CHUNK + length)
    }
    const parts: Buffer[] = []
    for (let i = first; i <= last; i++) parts.push(await this.chunk(i, signal))
    const all = Buffer.concat(parts)
    return all.subarray(offset - first * CHUNK, offset - first * CHUNK + length)
  }

  private async chunk(index: number, signal?: AbortSignal): Promise<Buffer> {
    const hit = this.cache.get(index)
    if (hit) return hit
    const start = index * CHUNK
    const data = await this.source.read(start, Math.min(CHUNK, this.source.size - start), signal)
    this.cache.set(index, data)
    return data
  }
}
