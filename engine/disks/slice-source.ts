import { assertReadInBounds, type BlockSource, type Extent } from './block-source'

/**
 * A window [start, start+size) of another source: a partition, a logical volume segment, an embedded image.
 * Closing a slice does not close its parent (the disk stays open for the other partitions).
 */
export class SliceSource implements BlockSource {
  constructor(
    private readonly parent: BlockSource,
    readonly start: number,
    readonly size: number,
    readonly label: string,
  ) {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(size) || start < 0 || size < 0 || start + size > parent.size) {
      throw new RangeError(`Slice ${start}+${size} is outside ${parent.label} (size ${parent.size})`)
    }
  }

  read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    assertReadInBounds(this, offset, length)
    return this.parent.read(this.start + offset, length, signal)
  }

  async *extents(signal?: AbortSignal): AsyncIterable<Extent> {
    const end = this.start + this.size
    if (!this.parent.extents) {
      if (this.size > 0) yield { offset: 0, length: this.size, kind: 'data' }
      return
    }
    for await (const e of this.parent.extents(signal)) {
      const a = Math.max(e.offset, this.start)
      const b = Math.min(e.offset + e.length, end)
      if (b > a) yield { offset: a - this.start, length: b - a, kind: e.kind }
      if (e.offset + e.length >= end) break
    }
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}
