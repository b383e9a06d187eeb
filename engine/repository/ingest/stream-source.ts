import { RepositoryError } from '../errors.js'
import type { MovingReadSource } from './read-into.js'

/**
 * An optional capability of a disk's byte stream (IngestDisk.stream): fill a buffer the caller owns with the next
 * target.length bytes. A stream that offers it (adapters/ssh's ExecByteStream) is read with ingest's recycled
 * buffers and a copy per piece straight from the transport; others are iterated.
 */
export interface FillableStream extends AsyncIterable<Uint8Array> {
  readInto(target: Buffer, signal?: AbortSignal): Promise<void>
  /** Like readInto, but the source may move target's memory to fill it elsewhere: use the returned Buffer. */
  readMoving?(target: Buffer, signal?: AbortSignal): Promise<Buffer>
  /** Stops the transfer early (a backup that failed or was cancelled). */
  close?(): void
}

export function isFillable(stream: AsyncIterable<Uint8Array>): stream is FillableStream {
  return typeof (stream as Partial<FillableStream>).readInto === 'function'
}

/**
 * A disk stream seen as a source that must be read in order, front to back, exactly once: what ingest's chunk loop
 * does for a stream. Reads may overlap (ingest reads ahead); each must start where the previous one ended. The
 * stream must deliver exactly `size` bytes; more or fewer fails the backup.
 */
export class StreamSource implements MovingReadSource {
  private next = 0
  private iterator: AsyncIterator<Uint8Array> | undefined
  private leftover: Uint8Array | undefined
  private queue: Promise<unknown> = Promise.resolve()
  private total = 0

  constructor(
    private readonly stream: AsyncIterable<Uint8Array>,
    readonly size: number,
    readonly label: string,
  ) {}

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    const out = Buffer.allocUnsafe(length)
    await this.readInto(out, offset, signal)
    return out
  }

  readMoving(target: Buffer, offset: number, signal?: AbortSignal): Promise<Buffer> {
    if (isFillable(this.stream) && this.stream.readMoving !== undefined) {
      const misplaced = this.reserve(target.length, offset)
      return misplaced ?? this.stream.readMoving(target, signal)
    }
    return this.readInto(target, offset, signal).then(() => target)
  }

  /** Claims the next `length` bytes for a read at `offset`; a rejected promise when that is not where the stream is. */
  private reserve(length: number, offset: number): Promise<never> | undefined {
    if (offset !== this.next || offset + length > this.size) {
      return Promise.reject(new RepositoryError('INVALID_ARGUMENT', `${this.label} can only be read in order (read at ${offset}, expected ${this.next}).`))
    }
    this.next += length
    return undefined
  }

  readInto(target: Buffer, offset: number, signal?: AbortSignal): Promise<void> {
    const misplaced = this.reserve(target.length, offset)
    if (misplaced !== undefined) return misplaced
    if (isFillable(this.stream)) return this.stream.readInto(target, signal)
    const last = this.next === this.size
    const run = this.queue.then(() => this.fillFromIterator(target, last, signal))
    this.queue = run.catch(() => undefined)
    return run
  }

  async close(): Promise<void> {
    if (isFillable(this.stream)) this.stream.close?.()
    else await this.iterator?.return?.().catch(() => undefined)
  }

  private async fillFromIterator(target: Buffer, last: boolean, signal?: AbortSignal): Promise<void> {
    const iterator = (this.iterator ??= this.stream[Symbol.asyncIterator]())
    let filled = 0
    while (filled < target.length) {
      signal?.throwIfAborted()
      let piece = this.leftover
      this.leftover = undefined
      if (piece === undefined) {
        const step = await iterator.next()
        if (step.done === true) throw lengthError(this.label, this.size, 'fewer')
        piece = step.value
        this.total += piece.length
        if (this.total > this.size) throw lengthError(this.label, this.size, 'more')
      }
      const take = Math.min(piece.length, target.length - filled)
      target.set(take === piece.length ? piece : piece.subarray(0, take), filled)
      filled += take
      if (take < piece.length) this.leftover = piece.subarray(take)
    }
    if (last) await this.expectEnd(iterator)
  }

  /** After the last byte the stream must end (and may still report its own failure, e.g. a remote exit status). */
  private async expectEnd(iterator: AsyncIterator<Uint8Array>): Promise<void> {
    if (this.leftover !== undefined && this.leftover.length > 0) throw lengthError(this.label, this.size, 'more')
    for (let step = await iterator.next(); step.done !== true; step = await iterator.next()) {
      if (step.value.length > 0) throw lengthError(this.label, this.size, 'more')
    }
  }

  /** A stream declared empty is read to its end all the same, so that one that is not fails. */
  async expectEmpty(signal?: AbortSignal): Promise<void> {
    if (this.size !== 0) return
    const iterator = (this.iterator ??= this.stream[Symbol.asyncIterator]())
    signal?.throwIfAborted()
    await this.expectEnd(iterator)
  }
}

function lengthError(label: string, size: number, which: 'more' | 'fewer'): RepositoryError {
  return new RepositoryError('INVALID_ARGUMENT', `${label} delivered ${which} bytes than its declared size of ${size}. No restore point was written.`, {
    label,
    size,
  })
}
