import type { Extent } from '../../disks/block-source.js'
import type { ByteRange } from './chunk-plan.js'
import type { MovingReadSource } from './read-into.js'
import type { StreamSource } from './stream-source.js'

/** True when the ranges are non-empty, ascending, non-overlapping and inside [0, size). */
export function rangesInOrder(ranges: readonly ByteRange[], size: number): boolean {
  let end = 0
  for (const r of ranges) {
    if (!Number.isSafeInteger(r.offset) || !Number.isSafeInteger(r.length) || r.length <= 0 || r.offset < end || r.offset + r.length > size) return false
    end = r.offset + r.length
  }
  return true
}

/**
 * A disk whose stream carries only its data ranges, concatenated (a host sent what its allocation map says holds
 * data): the gaps read as zeros and are reported as zero extents, so ingest never asks for them. Reads must come in
 * order, as they do from ingest; the stream underneath enforces it.
 */
export class SparseStreamSource implements MovingReadSource {
  /** Where each range starts in the stream. */
  private readonly streamStarts: number[] = []
  readonly label: string

  constructor(
    private readonly stream: StreamSource,
    readonly size: number,
    private readonly ranges: readonly ByteRange[],
  ) {
    let at = 0
    for (const r of ranges) {
      this.streamStarts.push(at)
      at += r.length
    }
    this.label = stream.label
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the BlockSource contract makes extents async
  async *extents(signal?: AbortSignal): AsyncIterable<Extent> {
    let at = 0
    for (const r of this.ranges) {
      signal?.throwIfAborted()
      if (r.offset > at) yield { offset: at, length: r.offset - at, kind: 'zero' }
      yield { offset: r.offset, length: r.length, kind: 'data' }
      at = r.offset + r.length
    }
    if (at < this.size) yield { offset: at, length: this.size - at, kind: 'zero' }
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    const out = Buffer.allocUnsafe(length)
    await this.readInto(out, offset, signal)
    return out
  }

  readMoving(target: Buffer, offset: number, signal?: AbortSignal): Promise<Buffer> {
    const inside = this.within(offset, target.length)
    if (inside !== undefined) return this.stream.readMoving(target, inside, signal)
    return this.readInto(target, offset, signal).then(() => target)
  }

  readInto(target: Buffer, offset: number, signal?: AbortSignal): Promise<void> {
    const inside = this.within(offset, target.length)
    if (inside !== undefined) return this.stream.readInto(target, inside, signal)
    // Spanning data and gaps: zeros, then every data piece claimed now, in order, before any other read can claim.
    target.fill(0)
    const end = offset + target.length
    const pieces: Promise<void>[] = []
    for (let k = this.first(offset); k < this.ranges.length; k++) {
      const r = this.ranges[k]
      const start = this.streamStarts[k]
      if (r === undefined || start === undefined || r.offset >= end) break
      const from = Math.max(offset, r.offset)
      const to = Math.min(end, r.offset + r.length)
      if (to > from) pieces.push(this.stream.readInto(target.subarray(from - offset, to - offset), start + from - r.offset, signal))
    }
    return Promise.all(pieces).then(() => undefined)
  }

  close(): Promise<void> {
    return this.stream.close()
  }

  /** The stream offset when [offset, offset + length) lies inside one data range; undefined otherwise. */
  private within(offset: number, length: number): number | undefined {
    const k = this.first(offset)
    const r = this.ranges[k]
    const start = this.streamStarts[k]
    if (r === undefined || start === undefined || offset < r.offset || offset + length > r.offset + r.length) return undefined
    return start + offset - r.offset
  }

  /** Index of the first range that ends after `offset` (binary search). */
  private first(offset: number): number {
    let lo = 0
    let hi = this.ranges.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const r = this.ranges[mid]
      if (r !== undefined && r.offset + r.length <= offset) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}
