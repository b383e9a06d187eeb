import type { BlockSource, Extent } from './block-source'
import type { ImageSource } from './image-types'

/** A raw disk: the container is the disk. */
export class RawImage implements ImageSource {
  readonly format = 'raw' as const

  constructor(readonly container: BlockSource) {}

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
