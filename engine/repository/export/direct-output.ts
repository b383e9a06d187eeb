import { constants } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { StagingPool, isRefusal } from '../direct-staging'

/** Unbuffered writes must start, end and sit in memory on boundaries of the device's block size; 4 KiB covers all. */
const ALIGN = 4096
/** One staging buffer holds a whole chunk (4 MiB, in WebAssembly pages of 64 KiB, which are page-aligned). */
const STAGING_PAGES = 64
const STAGING_BYTES = STAGING_PAGES * 64 * 1024
/** Writes with the disk at once: the export's decoding keeps going while they land. */
const STAGING_SLOTS = 4

/**
 * The file an export writes, at positions it chooses (holes are simply not written). Aligned ranges go with O_DIRECT
 * through a few page-aligned staging buffers, several at a time; the rest (a header, an unaligned tail) through
 * the page cache. An export writes gigabytes nobody reads soon: through the page cache every byte is copied into a
 * freshly allocated cache page, which on these VMs (the host reclaims free memory) cost more system time than
 * decoding the chunks, and the final fsync then waited for all of it (see backends/direct-writer.ts for the same
 * measurement on the backup side). Where O_DIRECT does not exist or the filesystem refuses it (macOS, Windows,
 * tmpfs), everything goes through the page cache as before; the file is the same either way.
 */
export class PositionedOutput {
  private readonly staging = new StagingPool(STAGING_PAGES, STAGING_SLOTS)
  private readonly inFlight = new Set<Promise<void>>()
  private failure: Error | undefined
  private closed = false

  private constructor(
    private readonly buffered: FileHandle,
    private direct: FileHandle | undefined,
  ) {}

  /** Creates (or empties) `file`. */
  static async create(file: string): Promise<PositionedOutput> {
    const buffered = await open(file, 'w', 0o600)
    let direct: FileHandle | undefined
    if (typeof constants.O_DIRECT === 'number') {
      try {
        direct = await open(file, constants.O_WRONLY | constants.O_DIRECT)
      } catch {
        // The filesystem does not do direct I/O (tmpfs): the page cache it is.
        direct = undefined
      }
    }
    return new PositionedOutput(buffered, direct)
  }

  /** Whether aligned writes (still) bypass the page cache. */
  get directEnabled(): boolean {
    return this.direct !== undefined
  }

  /** Writes `data` at `position`. Resolves once `data` may be reused; the bytes may still be on their way to disk. */
  async write(data: Uint8Array, position: number): Promise<void> {
    this.throwIfFailed()
    let at = 0
    if (this.direct !== undefined && position % ALIGN === 0) {
      const aligned = data.length - (data.length % ALIGN)
      while (at < aligned) {
        const length = Math.min(STAGING_BYTES, aligned - at)
        await this.writeDirect(data.subarray(at, at + length), position + at)
        at += length
      }
    }
    while (at < data.length) at += (await this.buffered.write(data, at, data.length - at, position + at)).bytesWritten
  }

  /** Waits for every write, sets the file's length (a trailing hole), syncs and closes it. */
  async finish(length: number): Promise<void> {
    await this.drain()
    this.throwIfFailed()
    await this.buffered.truncate(length)
    await this.buffered.sync()
    await this.close()
  }

  /** Releases both handles (after waiting for writes in flight); safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.drain()
    await this.direct?.close().catch(() => undefined)
    await this.buffered.close()
  }

  private async writeDirect(data: Uint8Array, position: number): Promise<void> {
    const staging = await this.take()
    const handle = this.direct
    if (staging === undefined || handle === undefined) {
      if (staging !== undefined) this.staging.give(staging)
      let done = 0
      while (done < data.length) done += (await this.buffered.write(data, done, data.length - done, position + done)).bytesWritten
      return
    }
    staging.set(data, 0)
    const length = data.length
    const writing = (async () => {
      try {
        let done = 0
        while (done < length) {
          const { bytesWritten } = await handle.write(staging, done, length - done, position + done)
          if (bytesWritten <= 0 || bytesWritten % ALIGN !== 0) throw new Error(`short direct write: ${done + bytesWritten} of ${length} bytes at ${position}`)
          done += bytesWritten
        }
      } catch (error) {
        if (!isRefusal(error)) throw error
        // Refused on the first try (a filesystem that opens with O_DIRECT but will not write so): the page cache it is.
        this.direct = undefined
        let done = 0
        while (done < length) done += (await this.buffered.write(staging, done, length - done, position + done)).bytesWritten
      } finally {
        this.staging.give(staging)
      }
    })()
    const tracked = writing.catch((error: unknown) => {
      this.failure ??= error instanceof Error ? error : new Error('a write of the export failed', { cause: error })
    })
    this.inFlight.add(tracked)
    void tracked.finally(() => this.inFlight.delete(tracked))
  }

  private async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight])
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure
  }

  private async take(): Promise<Buffer | undefined> {
    const buffer = await this.staging.take()
    // No address space for another buffer: write through the page cache instead.
    if (buffer === undefined) this.direct = undefined
    return buffer
  }
}
