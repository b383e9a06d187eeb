import { assertReadInBounds, type BlockSource } from '../disks/block-source'

interface Range {
  readonly offset: number
  readonly length: number
}

/** Sorted, merged, clipped to [0, size). */
function normalise(ranges: readonly Range[], size: number): Range[] {
  const sorted = ranges
    .filter((r) => Number.isSafeInteger(r.offset) && Number.isSafeInteger(r.length) && r.offset >= 0 && r.length > 0 && r.offset < size)
    .map((r) => ({ offset: r.offset, length: Math.min(r.length, size - r.offset) }))
    .sort((a, b) => a.offset - b.offset)
  const out: Range[] = []
  for (const r of sorted) {
    const last = out[out.length - 1]
    if (last && r.offset <= last.offset + last.length) out[out.length - 1] = { offset: last.offset, length: Math.max(last.length, r.offset + r.length - last.offset) }
    else out.push(r)
  }
  return out
}

/**
 * An incremental's disk as the repository reads it: the changed ranges from the host, everything else from the same
 * disk of the previous restore point. The repository reads whole 4 MiB chunks, so without this a changed 64 KiB
 * block would make the host send its whole chunk; with it, the host sends only what changed (CBT, dirty bitmaps,
 * VHD deltas — which cannot even serve the unchanged bytes). Where the previous point cannot be read, the host's
 * source is asked instead.
 */
export class ChangedOverParent implements BlockSource {
  private readonly ranges: Range[]

  constructor(
    private readonly changed: BlockSource,
    private readonly parent: BlockSource,
    ranges: readonly Range[],
  ) {
    this.ranges = normalise(ranges, changed.size)
  }

  get size(): number {
    return this.changed.size
  }
  get label(): string {
    return this.changed.label
  }

  /** The pieces of [offset, offset+length): from the host (changed) or from the previous point. */
  private pieces(offset: number, length: number): { offset: number; length: number; changed: boolean }[] {
    const end = offset + length
    const out: { offset: number; length: number; changed: boolean }[] = []
    let lo = 0
    let hi = this.ranges.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      const r = this.ranges[mid] as Range
      if (r.offset + r.length <= offset) lo = mid + 1
      else hi = mid
    }
    let at = offset
    for (let i = lo; i < this.ranges.length && at < end; i++) {
      const r = this.ranges[i] as Range
      if (r.offset >= end) break
      if (r.offset > at) out.push({ offset: at, length: r.offset - at, changed: false })
      const a = Math.max(at, r.offset)
      const b = Math.min(end, r.offset + r.length)
      out.push({ offset: a, length: b - a, changed: true })
      at = b
    }
    if (at < end) out.push({ offset: at, length: end - at, changed: false })
    return out
  }

  async readInto(target: Buffer, offset: number, signal?: AbortSignal): Promise<void> {
    assertReadInBounds(this, offset, target.length)
    await Promise.all(
      this.pieces(offset, target.length).map(async (p) => {
        let data: Buffer
        if (p.changed) data = await this.changed.read(p.offset, p.length, signal)
        else {
          try {
            data = await this.parent.read(p.offset, p.length, signal)
          } catch (err) {
            if (signal?.aborted === true) throw err
            data = await this.changed.read(p.offset, p.length, signal)
          }
        }
        data.copy(target, p.offset - offset, 0, p.length)
      }),
    )
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    const out = Buffer.allocUnsafe(length)
    await this.readInto(out, offset, signal)
    return out
  }

  async close(): Promise<void> {
    await this.parent.close().catch(() => undefined)
    await this.changed.close()
  }
}
