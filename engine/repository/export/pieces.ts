import { open, rm } from 'node:fs/promises'
import type { Writable } from 'node:stream'
import { once } from 'node:events'
import { CHUNK_SIZE } from '../format.js'
import type { PointDiskSource } from '../read/point-disk.js'

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

export function inputFromDisk(disk: PointDiskSource, prefetch: number): ExportInput {
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
          const p = disk.chunk(nextToStart++, signal)
          p.catch(() => undefined)
          queue.push(p)
        }
      }
      fill()
      while (queue.length > 0) {
        const data = await (queue.shift() as Promise<Buffer>)
        fill()
        yield data
      }
    },
  }
}

/** Writes pieces to a file, leaving zero runs as holes (sparse), or to a stream, writing real zeros. */
export async function writePieces(pieces: AsyncIterable<Piece>, output: string | Writable, signal?: AbortSignal): Promise<number> {
  if (typeof output === 'string') {
    const handle = await open(output, 'w')
    let complete = false
    try {
      let position = 0
      for await (const piece of pieces) {
        signal?.throwIfAborted()
        if (piece.kind === 'zeros') position += piece.length
        else {
          let done = 0
          while (done < piece.data.length) done += (await handle.write(piece.data, done, piece.data.length - done, position + done)).bytesWritten
          position += piece.data.length
        }
      }
      await handle.truncate(position)
      await handle.sync()
      complete = true
      return position
    } finally {
      await handle.close()
      // A half-written image must not be mistaken for an export: remove it on any failure or cancellation.
      if (!complete) await rm(output, { force: true })
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

export function data(buffer: Buffer): Piece {
  return { kind: 'data', data: buffer }
}

export function zeros(length: number): Piece {
  return { kind: 'zeros', length }
}
