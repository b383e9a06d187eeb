import { open, type FileHandle } from 'node:fs/promises'
import { basename } from 'node:path'
import { assertReadInBounds, type BlockSource } from './block-source'
import { DiskFormatError } from './errors'

/**
 * A local image file (or a regular file holding a raw disk) read with positional reads on one descriptor.
 * Node has no lseek(SEEK_DATA/SEEK_HOLE), so no extents(): the image formats above report allocation instead.
 */
export class FileSource implements BlockSource {
  private closed = false

  private constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    readonly label: string,
    readonly path: string,
  ) {}

  static async open(path: string, options: { label?: string } = {}): Promise<FileSource> {
    const handle = await open(path, 'r')
    try {
      const st = await handle.stat()
      if (!st.isFile() && !st.isBlockDevice()) {
        throw new DiskFormatError('unsupported', `${path} is neither a regular file nor a block device`, { path })
      }
      if (st.isBlockDevice()) {
        throw new DiskFormatError('unsupported', `${path} is a block device; read it through a device source, not as a file`, { path })
      }
      return new FileSource(handle, st.size, options.label ?? basename(path), path)
    } catch (e) {
      await handle.close()
      throw e
    }
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length)
    await this.readInto(buf, offset, signal)
    return buf
  }

  async readInto(target: Buffer, offset: number, signal?: AbortSignal): Promise<void> {
    const length = target.length
    assertReadInBounds(this, offset, length)
    signal?.throwIfAborted()
    if (this.closed) throw new DiskFormatError('io', `${this.label} is closed`)
    let done = 0
    while (done < length) {
      const { bytesRead } = await this.handle.read(target, done, length - done, offset + done)
      if (bytesRead === 0) throw new DiskFormatError('io', `${this.label} ended early at byte ${offset + done} (was it truncated while open?)`)
      done += bytesRead
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.handle.close()
  }
}
