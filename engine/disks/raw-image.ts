import type { BlockSource, Extent } from './block-source'
import type { ImageSource } from './image-types'

/** A raw disk: the container is the disk. */
export class RawImage implements ImageSource {
  readonly format = 'raw' as const

  /**
   * Present when the container can read into the caller's buffer (a local file can): a backup then reuses its chunk
   * buffers instead of getting a fresh 4 MiB one per read (256 per GiB before this was passed through) — fresh memory
   * is page faults and, for the garbage collector, external memory that forces full collections.
   */
  readonly readInto?: (target: Buffer, offset: number, signal?: AbortSignal) => Promise<void>

  constructor(readonly container: BlockSource) {
    const readInto = container.readInto?.bind(container)
    if (readInto !== undefined) this.readInto = readInto
  }

  get size(): number {
    return this.container.size
  }
  get label(): string {
    return this.container.label
  }

  read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    return this.container.read(offset, length, signal)
  }

  async *extents(signal?: AbortSignal): AsyncIterable<Extent> {
    if (this.container.extents) yield* this.container.extents(signal)
    else if (this.size > 0) yield { offset: 0, length: this.size, kind: 'data' }
  }

  close(): Promise<void> {
    return this.container.close()
  }
}
