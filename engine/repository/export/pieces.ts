import { rename, rm } from 'node:fs/promises'
import path from 'node:path'
import type { Writable } from 'node:stream'
import { once } from 'node:events'
import { CHUNK_SIZE } from '../format.js'
import type { PointDiskSource } from '../read/point-disk.js'
import { PositionedOutput } from './direct-output.js'

/** An export is a sequence of pieces written one after another: bytes, or a run of zero bytes. */
export type Piece = { readonly kind: 'data'; readonly data: Buffer } | { readonly kind: 'zeros'; readonly length: number }

/** What an image writer needs to know about the disk: its size, which chunks are zero, and the chunks in order. */
export interface ExportInput {
  readonly size: number
  /** One entry per chunk, true when the chunk is all zeros (unallocated in the image). */
  readonly zeroChunks: readonly boolean[]
  /** The disk's chunks in order, each CHUNK_SIZE long except the last. Zero chunks are yielded too. */
  chunks(signal?: AbortSignal): AsyncIterable<Buffer>
}

/**
 * The disk's chunks for an image writer. With `recycle`, each chunk's memory is given back for the next read once the
 * writer asks for the following chunk: only for a consumer that is done with every byte of a piece when it asks for
 * the next (writePieces to a file: PositionedOutput.write resolves once the bytes may be reused) — a stream keeps
 * references to what it was given, so exports to streams and uploads to hosts do not recycle.
 */
export function inputFromDisk(disk: PointDiskSource, prefetch: number, recycle = false): ExportInput {
  const list = disk.chunkList
  return {
    size: disk.size,
    zeroChunks: list.map((id) => id === null),
    async *chunks(signal?: AbortSignal) {
      // Keep `prefetch` chunks loading ahead of the writer so backend latency and decoding overlap with writing.
      const queue: Promise<Buffer>[] = []
      let nextToStart = 0
      const fill = (): void => {
        while (queue.length < prefetch && nextToStart < list.length) {
          const p = recycle ? disk.takeChunk(nextToStart++, signal) : disk.chunk(nextToStart++, signal)
          p.catch(() => undefined)
          queue.push(p)
        }
      }
      fill()
      while (queue.length > 0) {
        const data = await (queue.shift() as Promise<Buffer>)
        fill()
        yield data
        // The writer asked for the next chunk: it has written every piece of this one.
        if (recycle) disk.recycle(data)
      }
    },
  }
}

/**
 * The name an export is written under until it is whole. Renamed over the asked name only when complete, so a
 * process killed half-way (kill -9, power loss) leaves this clearly named partial file — never a half image under
 * the name the admin asked for. Fixed per output, so the next export to the same place replaces a dead one's.
 */
export function partialName(output: string): string {
  return path.join(path.dirname(output), `.${path.basename(output)}.lifeboat-partial`)
}

/**
 * Writes pieces to a file, leaving zero runs as holes (sparse) and bypassing the page cache where it can
 * (direct-output.ts), or to a stream, writing real zeros.
 */
export async function writePieces(pieces: AsyncIterable<Piece>, output: string | Writable, signal?: AbortSignal): Promise<number> {
  if (typeof output === 'string') {
    const partial = partialName(output)
    const file = await PositionedOutput.create(partial)
    let complete = false
    try {
      let position = 0
      for await (const piece of pieces) {
        signal?.throwIfAborted()
        if (piece.kind === 'zeros') position += piece.length
        else {
          for (const [from, to] of nonZeroRuns(piece.data)) await file.write(piece.data.subarray(from, to), position + from)
          position += piece.data.length
        }
      }
      await file.finish(position)
      await rename(partial, output)
      complete = true
      return position
    } finally {
      await file.close().catch(() => undefined)
      // A half-written image must not be mistaken for an export: remove it on any failure or cancellation.
      if (!complete) await rm(partial, { force: true })
    }
  }
  const zeros = Buffer.alloc(CHUNK_SIZE)
  let total = 0
  const write = async (data: Buffer): Promise<void> => {
    total += data.length
    if (!output.write(data)) await once(output, 'drain', { signal })
  }
  for await (const piece of pieces) {
    signal?.throwIfAborted()
    if (piece.kind === 'data') await write(piece.data)
    else for (let left = piece.length; left > 0; left -= CHUNK_SIZE) await write(zeros.subarray(0, Math.min(CHUNK_SIZE, left)))
  }
  return total
}

/** Zero blocks inside data are left as holes at this size: the file system's blocks are 4 KiB, a few memcmp calls per MiB are cheap. */
export const HOLE_BLOCK = 64 * 1024
const ZERO_BLOCK = Buffer.alloc(HOLE_BLOCK)

/**
 * The [from, to) runs of `data` that hold a non-zero byte, in HOLE_BLOCK steps (a partial last block counts as data
 * unless it is all zeros too). A mostly-empty chunk — a disk's free space rarely lines up with 4 MiB — becomes one
 * or two writes and holes, so the export file is as sparse as the disk and the zeros never reach the disk.
 */
export function nonZeroRuns(data: Buffer): [number, number][] {
  const runs: [number, number][] = []
  let start = -1
  for (let at = 0; at < data.length; at += HOLE_BLOCK) {
    const end = Math.min(at + HOLE_BLOCK, data.length)
    const zero = data.subarray(at, end).equals(ZERO_BLOCK.subarray(0, end - at))
    if (!zero && start < 0) start = at
    if (zero && start >= 0) {
      runs.push([start, at])
      start = -1
    }
  }
  if (start >= 0) runs.push([start, data.length])
  return runs
}

export function data(buffer: Buffer): Piece {
  return { kind: 'data', data: buffer }
}

export function zeros(length: number): Piece {
  return { kind: 'zeros', length }
}
