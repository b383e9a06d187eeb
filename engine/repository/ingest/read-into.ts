import type { BlockSource } from '../../disks/block-source.js'

/**
 * An optional capability a BlockSource may offer: read into a buffer the caller owns. Ingest then recycles its
 * 4 MiB chunk buffers instead of receiving a fresh one per read — on machines where new memory is expensive
 * (every fresh page is a fault) that is a large part of a backup's CPU time. Sources without it work unchanged.
 */
export interface ReadIntoSource extends BlockSource {
  readInto(target: Buffer, offset: number, signal?: AbortSignal): Promise<void>
}

export function canReadInto(source: BlockSource): source is ReadIntoSource {
  return typeof (source as Partial<ReadIntoSource>).readInto === 'function'
}

/**
 * A further option: read into memory the caller gives up, which the source may move to another thread to fill
 * (a reader thread fills it in place and sends it back) — no copy at all. The returned Buffer holds the bytes; the
 * Buffer passed in must not be used afterwards (its memory may now belong to the returned one).
 */
export interface MovingReadSource extends ReadIntoSource {
  readMoving(target: Buffer, offset: number, signal?: AbortSignal): Promise<Buffer>
}

export function canReadMoving(source: BlockSource): source is MovingReadSource {
  return typeof (source as Partial<MovingReadSource>).readMoving === 'function'
}

/** A few chunk-sized buffers handed back after use; bounded, so it never holds more than the pipeline's window. */
export class BufferPool {
  private readonly free: Buffer[] = []

  constructor(
    private readonly size: number,
    private readonly max: number,
  ) {}

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafe(this.size)
  }

  /** Accepts `memory` back when it is a whole buffer of the pool's size (views of other sizes are dropped). */
  give(memory: ArrayBuffer | undefined): void {
    if (memory === undefined || memory.byteLength !== this.size || this.free.length >= this.max) return
    this.free.push(Buffer.from(memory))
  }
}
