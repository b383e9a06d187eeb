import { assertReadInBounds, type BlockSource } from './block-source'

/**
 * A read-only view of a source with some byte ranges replaced in memory (a replayed VHDX log). The file itself
 * is never written; later patches win over earlier ones, as the log's order demands.
 */
export class OverlaySource implements BlockSource {
  constructor(
    private readonly base: BlockSource,
    private readonly patches: readonly { readonly offset: number; readonly data: Buffer }[],
  ) {}

  get size(): number {
    return this.base.size
  }
  get label(): string {
    return this.base.label
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    assertReadInBounds(this, offset, length)
    const buf = await this.base.read(offset, length, signal)
    for (const p of this.patches) {
      const a = Math.max(offset, p.offset)
      const b = Math.min(offset + length, p.offset + p.data.length)
      if (b > a) p.data.copy(buf, a - offset, a - p.offset, b - p.offset)
    }
    return buf
  }

  close(): Promise<void> {
    return this.base.close()
  }
}
