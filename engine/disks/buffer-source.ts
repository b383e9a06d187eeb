import { assertReadInBounds, type BlockSource } from './block-source'

/** An in-memory BlockSource: small images in tests and the fuzzer, decoded tables, zero-filled stand-ins. */
export class BufferSource implements BlockSource {
  constructor(
    private readonly data: Buffer,
    readonly label = 'memory',
  ) {}

  get size(): number {
    return this.data.length
  }

  read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    assertReadInBounds(this, offset, length)
    signal?.throwIfAborted()
    return Promise.resolve(Buffer.from(this.data.subarray(offset, offset + length)))
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}
