import { constants, type Stats } from 'node:fs'
import { open, stat, type FileHandle } from 'node:fs/promises'
import { basename } from 'node:path'
import { assertReadInBounds, type BlockSource, type Extent } from './block-source'
import { localExtents } from './local-allocation'
import { DiskFormatError } from './errors'

/** Flags Windows lacks read as 0 there (it has no FIFOs or controlling terminals to guard against). */
function flag(name: 'O_NONBLOCK' | 'O_NOCTTY'): number {
  return (constants as Partial<Record<string, number>>)[name] ?? 0
}

const OPEN_FLAGS = constants.O_RDONLY | flag('O_NONBLOCK') | flag('O_NOCTTY')

function refuseNonImage(path: string, st: Stats): void {
  if (st.isFile()) return
  if (st.isBlockDevice()) {
    throw new DiskFormatError('unsupported', `${path} is a block device; read it through a device source, not as a file`, { path })
  }
  const kind = st.isFIFO() ? 'a named pipe' : st.isSocket() ? 'a socket' : st.isCharacterDevice() ? 'a character device' : st.isDirectory() ? 'a folder' : 'not a regular file'
  throw new DiskFormatError('not-a-file', `${path} is ${kind}, not a disk image file; nothing was read from it`, { path })
}

/**
 * A local image file (or a regular file holding a raw disk) read with positional reads on one descriptor.
 * Node has no lseek(SEEK_DATA/SEEK_HOLE): extents() asks `qemu-img map` where it is installed (local-allocation.ts)
 * and otherwise reports the whole file as data; the image formats above report their own allocation.
 */
export class FileSource implements BlockSource {
  private closed = false

  private constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    readonly label: string,
    readonly path: string,
  ) {}

  /**
   * Opening a named pipe blocks a libuv thread in open(2) until a writer comes, and that thread cannot be taken
   * back: the engine then hangs, and not even SIGTERM or process.exit() end it (exit waits for the thread). So the
   * path is looked at before it is opened, opened non-blocking (a pipe swapped in meanwhile opens at once instead of
   * waiting, and a terminal does not become the engine's), and the opened descriptor is looked at again.
   */
  static async open(path: string, options: { label?: string } = {}): Promise<FileSource> {
    refuseNonImage(path, await stat(path))
    const handle = await open(path, OPEN_FLAGS)
    try {
      const st = await handle.stat()
      refuseNonImage(path, st)
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

  async *extents(signal?: AbortSignal): AsyncIterable<Extent> {
    const known = await localExtents(this.path, this.size, signal)
    if (known === undefined) yield { offset: 0, length: this.size, kind: 'data' }
    else yield* known
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.handle.close()
  }
}
