import { AdapterError, throwIfAborted, type RemoteFile } from '../host-adapter'
import { ExecByteStream } from './exec-byte-stream'
import { PipelinedReader } from './pipelined-reader'
import { commandFailed, type RootShell } from './root-shell'
import { sh } from './shell-quote'

const STREAM_BLOCK = 4 * 1024 * 1024

/**
 * A file or block device on a host read entirely through exec channels, as root (directly or through sudo): random
 * reads through pipelined remote range readers (a few channels, many requests in flight), bulk reads through one
 * `cat`/`dd` stream at the channel's full speed. This is what the Linux adapter hands to the engine for disks.
 */
export class ExecRemoteFile implements RemoteFile {
  private readers: Promise<PipelinedReader>[] = []
  private closed = false

  private constructor(
    private readonly shell: RootShell,
    readonly path: string,
    readonly size: number,
    readonly isBlockDevice: boolean,
    private readonly readerCount: number,
    private readonly systemSsh: boolean,
  ) {}

  get label(): string {
    return `${this.shell.conn.label}:${this.path}`
  }

  /**
   * `readers`: pipelined range readers for random reads (1–8, default 2). `systemSsh`: whether bulk reads may go
   * through the system's OpenSSH client (default true; see openssh-stream.ts).
   */
  static async open(shell: RootShell, path: string, signal?: AbortSignal, options: { readers?: number; systemSsh?: boolean } = {}): Promise<ExecRemoteFile> {
    throwIfAborted(signal, 'Opening a remote file')
    // One round trip: the kind and size of the file (a device reports 0 through stat; ask the kernel instead).
    const script = 'if [ -b "$1" ]; then printf "block %s\\n" "$(blockdev --getsize64 "$1")"; elif [ -f "$1" ]; then printf "file %s\\n" "$(stat -L -c %s "$1")"; elif [ -e "$1" ]; then echo other; else echo missing; fi'
    const result = await shell.exec(sh`sh -c ${script} lifeboat-stat ${path}`, { ...(signal ? { signal } : {}), timeoutMs: 30_000, maxOutputBytes: 4096 })
    if (result.code !== 0) throw commandFailed(result, shell.conn.label, `Looking at ${path}`)
    const m = /^(block|file|other|missing)(?: (\d{1,20}))?\s*$/.exec(result.stdout)
    if (m === null) throw new AdapterError('BAD_RESPONSE', `${shell.conn.label} answered something unexpected about ${path}.`, { path })
    if (m[1] === 'missing') throw new AdapterError('NOT_FOUND', `${path} does not exist on ${shell.conn.label}.`, { path })
    if (m[1] === 'other') throw new AdapterError('NOT_SUPPORTED', `${path} on ${shell.conn.label} is neither a file nor a block device.`, { path })
    const size = Number(m[2])
    if (!Number.isSafeInteger(size) || size < 0) throw new AdapterError('BAD_RESPONSE', `The host reported an impossible size for ${path}.`, { path })
    return new ExecRemoteFile(shell, path, size, m[1] === 'block', Math.max(1, Math.min(8, options.readers ?? 2)), options.systemSsh !== false)
  }

  async readRange(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    this.checkRange(offset, length)
    if (length === 0) return Buffer.alloc(0)
    const reader = await this.pickReader(signal)
    return await reader.read(offset, length, signal)
  }

  /**
   * `length` bytes from `offset` through one `cat`/`dd` at the channel's full speed. The result is iterable, and also
   * offers readInto() for consumers that bring their own buffers (see ExecByteStream).
   */
  stream(offset: number, length: number, signal?: AbortSignal): ExecByteStream {
    this.checkRange(offset, length)
    const command =
      offset === 0 && length === this.size && !this.isBlockDevice
        ? sh`cat -- ${this.path}`
        : sh`dd if=${this.path} bs=${STREAM_BLOCK} iflag=skip_bytes,count_bytes,fullblock skip=${offset} count=${length} status=none`
    return new ExecByteStream(this.shell, command, length, this.label, signal, { systemSsh: this.systemSsh })
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve()
    this.closed = true
    const readers = this.readers
    this.readers = []
    for (const r of readers) void r.then((reader) => reader.close()).catch(() => undefined)
    return Promise.resolve()
  }

  private async pickReader(signal?: AbortSignal): Promise<PipelinedReader> {
    if (this.readers.length < this.readerCount) {
      const started = PipelinedReader.start(this.shell, this.path, this.label, signal)
      started.catch(() => {
        this.readers = this.readers.filter((r) => r !== started)
      })
      this.readers.push(started)
      return await started
    }
    const ready = await Promise.all(this.readers)
    return ready.reduce((best, r) => (r.busyBytes < best.busyBytes ? r : best))
  }

  private checkRange(offset: number, length: number): void {
    if (this.closed) throw new AdapterError('CONNECTION_LOST', `${this.label} is closed.`)
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new RangeError(`Read of ${length} bytes at ${offset} is outside ${this.label} (${this.size} bytes)`)
    }
  }
}
