import { CHUNK_SIZE } from '../format.js'
import { RepositoryError } from '../errors.js'

/**
 * Cuts a byte stream (an HTTP export, an exec'd `cat`) into CHUNK_SIZE buffers, the last one shorter. Each
 * yielded buffer is fresh and owned by the consumer. Fails when the stream is longer or shorter than declared.
 */
export async function* streamChunks(stream: AsyncIterable<Uint8Array>, size: number, label: string, signal?: AbortSignal): AsyncGenerator<Buffer> {
  let total = 0
  let current = Buffer.allocUnsafe(Math.min(CHUNK_SIZE, size))
  let filled = 0
  for await (const piece of stream) {
    signal?.throwIfAborted()
    let at = 0
    while (at < piece.length) {
      if (total >= size) throw lengthError(label, size, 'more')
      const take = Math.min(piece.length - at, current.length - filled, size - total)
      current.set(piece.subarray(at, at + take), filled)
      filled += take
      at += take
      total += take
      if (filled === current.length) {
        yield current
        current = Buffer.allocUnsafe(Math.min(CHUNK_SIZE, size - total))
        filled = 0
      }
    }
  }
  if (total !== size) throw lengthError(label, size, 'fewer')
}

function lengthError(label: string, size: number, which: 'more' | 'fewer'): RepositoryError {
  return new RepositoryError('INVALID_ARGUMENT', `${label} delivered ${which} bytes than its declared size of ${size}. No restore point was written.`, {
    label,
    size,
  })
}
