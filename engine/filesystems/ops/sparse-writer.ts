import { open, rm, type FileHandle } from 'node:fs/promises'
import { FilesystemError } from '../errors'
import type { Pacer } from '../pace'
import type { DataPiece, FsNode, Volume } from '../types'

/** The source (the guest's disk) failed while a file was read: that file is lost, the target is fine. */
export class SourceReadError extends Error {
  override readonly name = 'SourceReadError'
}

/** Bytes the restore may still write to the target, shared by all its files. */
export interface WriteBudget {
  left: number
  readonly free: number
}

const BLOCK = 4096
const ZERO = Buffer.alloc(BLOCK)

export interface SparseWriteOptions {
  readonly signal?: AbortSignal
  readonly pacer: Pacer
  readonly budget: WriteBudget
  /** Called once the file exists on the target, before any byte is read. */
  readonly onCreated?: () => void
}

/**
 * Writes one file so that holes stay holes, like `cp --sparse=auto`: holes the filesystem records are never read
 * (Volume.readData), all-zero 4 KiB blocks that were stored are not written, and the length is set last with
 * ftruncate. Only real data counts against the budget, so a hostile image cannot fill the disk beyond what was
 * checked. Created exclusively; on any failure the partial file is removed, so nothing half-written stays behind.
 */
export async function writeSparseFile(volume: Volume, node: FsNode, out: string, options: SparseWriteOptions): Promise<{ written: number }> {
  const { signal } = options
  const size = node.entry.size
  const fh = await open(out, 'wx', 0o600)
  options.onCreated?.()
  let ok = false
  let written = 0
  try {
    const pieces = volume.readData(node, signal ? { signal } : {})[Symbol.asyncIterator]()
    let pos = 0
    for (;;) {
      let next: IteratorResult<DataPiece>
      try {
        next = await pieces.next()
      } catch (err) {
        if (signal?.aborted) throw err
        throw new SourceReadError(`could not be read from the disk image: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
      }
      if (next.done) break
      const { offset, data } = next.value
      if (offset < pos) throw new SourceReadError(`its data pieces overlap (at byte ${offset}); the image is damaged`)
      const length = Math.min(data.length, size - offset)
      if (length <= 0) break
      written += await writeNonZero(fh, data.subarray(0, length), offset, options)
      pos = offset + length
    }
    await fh.truncate(size)
    ok = true
  } finally {
    await fh.close()
    if (!ok) await rm(out, { force: true })
  }
  return { written }
}

async function writeNonZero(fh: FileHandle, buf: Buffer, offset: number, options: SparseWriteOptions): Promise<number> {
  const blockEnd = (i: number): number => Math.min(buf.length, i + BLOCK - ((offset + i) % BLOCK))
  const zero = (s: number, e: number): boolean => buf.compare(ZERO, 0, e - s, s, e) === 0
  let written = 0
  for (let i = 0; i < buf.length; ) {
    options.signal?.throwIfAborted()
    let j = blockEnd(i)
    if (zero(i, j)) {
      i = j
      continue
    }
    while (j < buf.length && !zero(j, blockEnd(j))) j = blockEnd(j)
    const length = j - i
    if (length > options.budget.left) {
      throw new FilesystemError('limit', `Restore stopped: the files hold more data than the ${options.budget.free} bytes that were free on the target (the disk image understated their size)`, { free: options.budget.free })
    }
    options.budget.left -= length
    for (let at = i; at < j; ) {
      const { bytesWritten } = await fh.write(buf, at, j - at, offset + at)
      if (bytesWritten <= 0) throw new Error(`Writing to the restore folder made no progress at byte ${offset + at}`)
      at += bytesWritten
    }
    written += length
    i = j
  }
  await options.pacer()
  return written
}
