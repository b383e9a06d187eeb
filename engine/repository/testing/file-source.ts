import { open, type FileHandle } from 'node:fs/promises'
import { assertReadInBounds, type BlockSource, type Extent } from '../../disks/block-source.js'

/**
 * A minimal BlockSource over a local image file, for this folder's tests, fault children and benchmark (the
 * product's file sources live in engine/disks/). Optional `zeroExtents` lets a test claim regions are zero.
 */
export async function openFileSource(path: string, options: { zeroExtents?: readonly { offset: number; length: number }[] } = {}): Promise<BlockSource> {
  const handle: FileHandle = await open(path, 'r')
  const { size } = await handle.stat()
  const source: BlockSource = {
    size,
    label: path,
    async read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
      assertReadInBounds(source, offset, length)
      signal?.throwIfAborted()
      const buf = Buffer.allocUnsafe(length)
      let done = 0
      while (done < length) {
        const { bytesRead } = await handle.read(buf, done, length - done, offset + done)
        if (bytesRead === 0) throw new Error(`${path} ended early at ${offset + done}`)
        done += bytesRead
      }
      return buf
    },
    close: () => handle.close(),
  }
  // The optional read-into capability (ingest/read-into.ts): lets ingest recycle its chunk buffers.
  Object.assign(source, {
    async readInto(target: Buffer, offset: number, signal?: AbortSignal): Promise<void> {
      assertReadInBounds(source, offset, target.length)
      signal?.throwIfAborted()
      let done = 0
      while (done < target.length) {
        const { bytesRead } = await handle.read(target, done, target.length - done, offset + done)
        if (bytesRead === 0) throw new Error(`${path} ended early at ${offset + done}`)
        done += bytesRead
      }
    },
  })
  const zeros = options.zeroExtents
  if (zeros !== undefined) {
    // eslint-disable-next-line @typescript-eslint/require-await -- the contract makes extents async
    source.extents = async function* (): AsyncIterable<Extent> {
      let at = 0
      for (const z of [...zeros].sort((a, b) => a.offset - b.offset)) {
        if (z.offset > at) yield { offset: at, length: z.offset - at, kind: 'data' }
        yield { offset: z.offset, length: z.length, kind: 'zero' }
        at = z.offset + z.length
      }
      if (at < size) yield { offset: at, length: size - at, kind: 'data' }
    }
  }
  return source
}
