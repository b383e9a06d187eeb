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
    assertReadInBounds(this, offset, length)
    signal?.throwIfAborted()
    if (this.closed) throw new DiskFormatError('io', `${this.label} is closed`)
    const buf = Buffer.allocUnsafe(length)
    let done = 0
    while (done < length) {
      const { bytesRead } = await this.handle.read(buf, done, length - done, offset + done)
      if (bytesRead === 0) throw new DiskFormatError('io', `${this.label} ended early at byte ${offset + done} (was it truncated while open?)`)
      done += bytesRead
    }
    return buf
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.handle.close()
  }
}
