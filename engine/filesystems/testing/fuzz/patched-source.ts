import { assertReadInBounds, type BlockSource } from '../../../disks/block-source'

/**
 * A copy-on-write view of another source for fuzzing: byte patches and a truncation are applied on read, so
 * a 300 MiB image can be corrupted thousands of times without copying it. It also records the small reads a
 * clean pass makes, which tells the fuzzer where the metadata lives.
 */
export class PatchedSource implements BlockSource {
  readonly size: number
  readonly reads: { offset: number; length: number }[] = []

  constructor(
    private readonly base: BlockSource,
    private readonly patches: readonly { offset: number; bytes: Buffer }[] = [],
    size?: number,
    private readonly record = false,
  ) {
    this.size = Math.min(size ?? base.size, base.size)
  }

  get label(): string {
    return `fuzz:${this.base.label}`
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    assertReadInBounds(this, offset, length)
    if (this.record && length <= 64 * 1024) this.reads.push({ offset, length })
    const buf = await this.base.read(offset, length, signal)
    for (const p of this.patches) {
      const a = Math.max(offset, p.offset)
      const b = Math.min(offset + length, p.offset + p.bytes.length)
      if (b > a) p.bytes.copy(buf, a - offset, a - p.offset, b - p.offset)
    }
    return buf
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}
