import { constants } from 'node:fs'
import { open, rm } from 'node:fs/promises'
import { StagingPool, isRefusal } from '../direct-staging'

/** Unbuffered writes must start, end and sit in memory on boundaries of the device's block size; 4 KiB covers all. */
const ALIGN = 4096
/** Smaller objects (manifests, locks, config, chunks that compressed to little) go through the page cache. */
const MIN_DIRECT = 256 * 1024
/** The largest sealed chunk (4 MiB + 4 KiB), in WebAssembly pages of 64 KiB. */
const STAGING_PAGES = 65
const STAGING_BYTES = STAGING_PAGES * 64 * 1024
/** Staging buffers, so this many writes can be with the disk at once (ingest's window is about this deep). */
const STAGING_SLOTS = 4

/**
 * Writes large new objects with O_DIRECT, bypassing the page cache. A backup writes gigabytes that nobody reads
 * back soon: through the page cache every one of those bytes is copied into freshly allocated cache pages (on a VM
 * whose host reclaims free memory that costs ~25 µs per 4 KiB page — measured 6–7 s of system time per GiB, more
 * than the whole network transfer) and it evicts what the machine actually uses. Direct writes cost a copy into an
 * aligned staging buffer and go straight to the disk, already on the device when the write returns (the fsync that
 * follows only flushes the device cache and the file's metadata).
 *
 * Memory for O_DIRECT must be block-aligned, which Node's buffers are not; a WebAssembly memory is page-aligned.
 * Where O_DIRECT does not exist (macOS, Windows) or the filesystem refuses it (tmpfs, some network filesystems),
 * write() answers false once and from then on, and the caller writes through the page cache as before.
 */
export class DirectWriter {
  private readonly staging = new StagingPool(STAGING_PAGES, STAGING_SLOTS)
  private disabled = typeof constants.O_DIRECT !== 'number'

  /** Whether direct writes are (still) in use; false once the platform or filesystem refused them. */
  get enabled(): boolean {
    return !this.disabled
  }

  /**
   * Writes `parts` (together `total` bytes) into a new file `file`, which must not exist. Resolves false without
   * leaving a file behind when the object is not one to write this way or the filesystem refuses; throws real
   * write errors (ENOSPC, EIO) with the file possibly left for the caller to remove. The file is created with
   * `mode` (owner-only unless told otherwise).
   */
  async write(file: string, parts: readonly Uint8Array[], total: number, mode = 0o600): Promise<boolean> {
    if (this.disabled || total < MIN_DIRECT || total > STAGING_BYTES) return false
    const staging = await this.take()
    if (staging === undefined) return false
    try {
      let at = 0
      for (const part of parts) {
        staging.set(part, at)
        at += part.length
      }
      const aligned = total - (total % ALIGN)
      let handle
      try {
        handle = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DIRECT, mode)
      } catch (error) {
        if (!isRefusal(error)) throw error
        this.disabled = true
        return false
      }
      try {
        let done = 0
        while (done < aligned) {
          const { bytesWritten } = await handle.write(staging, done, aligned - done, done)
          if (bytesWritten <= 0 || bytesWritten % ALIGN !== 0) throw new Error(`short direct write: ${done + bytesWritten} of ${aligned} bytes`)
          done += bytesWritten
        }
      } catch (error) {
        await handle.close().catch(() => undefined)
        if (!isRefusal(error)) throw error
        this.disabled = true
        await rm(file, { force: true })
        return false
      }
      await handle.close()
      if (aligned < total) {
        // The last partial block goes through the page cache: a few KiB, written back by the fsync that follows.
        const tail = await open(file, 'r+')
        try {
          let done = aligned
          while (done < total) done += (await tail.write(staging, done, total - done, done)).bytesWritten
        } finally {
          await tail.close()
        }
      }
      return true
    } finally {
      this.staging.give(staging)
    }
  }

  private async take(): Promise<Buffer | undefined> {
    const buffer = await this.staging.take()
    // No address space for another buffer: write through the page cache instead.
    if (buffer === undefined) this.disabled = true
    return buffer
  }
}
