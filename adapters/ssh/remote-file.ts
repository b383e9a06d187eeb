import type { SFTPWrapper } from 'ssh2'
import { AdapterError, throwIfAborted, type RemoteFile } from '../host-adapter'
import type { SshConnection } from './ssh-connection'
import { sh } from './shell-quote'

const STREAM_BLOCK = 4 * 1024 * 1024

/**
 * A file or device on an SSH host. Random reads go over SFTP (many requests in flight, each split by ssh2 into
 * protocol-sized pieces); sequential bulk reads go over an exec'd `dd`, which runs at the channel's full speed
 * instead of SFTP's request/response pace.
 */
export class SshRemoteFile implements RemoteFile {
  private closed = false

  private constructor(
    private readonly conn: SshConnection,
    private readonly sftp: SFTPWrapper,
    private readonly handle: Buffer,
    readonly path: string,
    readonly size: number,
  ) {}

  get label(): string {
    return `${this.conn.label}:${this.path}`
  }

  static async open(conn: SshConnection, path: string, signal?: AbortSignal): Promise<SshRemoteFile> {
    throwIfAborted(signal, 'Opening a remote file')
    const sftp = await conn.sftp()
    const handle = await new Promise<Buffer>((resolve, reject) =>
      sftp.open(path, 'r', (err, h) => (err ? reject(sftpError(err, conn, path)) : resolve(h))),
    )
    try {
      const stats = await new Promise<{ size: number; isBlockDevice(): boolean }>((resolve, reject) =>
        sftp.fstat(handle, (err, st) => (err ? reject(sftpError(err, conn, path)) : resolve(st))),
      )
      let size = stats.size
      if (stats.isBlockDevice() || size === 0) {
        // Block devices (LVs, /dev/sdX) report size 0 through stat; ask the kernel instead.
        const out = await conn.exec(sh`blockdev --getsize64 ${path}`, { ...(signal ? { signal } : {}), maxOutputBytes: 4096, timeoutMs: 30_000 })
        if (out.code === 0 && /^\d+\s*$/.test(out.stdout)) size = Number(out.stdout.trim())
      }
      if (!Number.isSafeInteger(size) || size < 0) throw new AdapterError('BAD_RESPONSE', `The host reported an impossible size for ${path}.`)
      return new SshRemoteFile(conn, sftp, handle, path, size)
    } catch (err) {
      sftp.close(handle, () => undefined)
      throw err
    }
  }

  async readRange(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    this.checkRange(offset, length)
    throwIfAborted(signal, 'Reading a remote file')
    const buffer = Buffer.allocUnsafe(length)
    let done = 0
    // ssh2 may return short reads (the server's packet limit); continue until the range is complete.
    while (done < length) {
      throwIfAborted(signal, 'Reading a remote file')
      const n = await new Promise<number>((resolve, reject) =>
        this.sftp.read(this.handle, buffer, done, length - done, offset + done, (err, bytesRead) =>
          err ? reject(sftpError(err, this.conn, this.path)) : resolve(bytesRead),
        ),
      )
      if (n <= 0) throw new AdapterError('BAD_RESPONSE', `${this.label} ended at ${offset + done} bytes, before its reported size ${this.size}.`)
      done += n
    }
    return buffer
  }

  async *stream(offset: number, length: number, signal?: AbortSignal): AsyncIterable<Buffer> {
    this.checkRange(offset, length)
    if (length === 0) return
    const command =
      offset === 0 && length === this.size
        ? sh`cat -- ${this.path}`
        : sh`dd if=${this.path} bs=${STREAM_BLOCK} iflag=skip_bytes,count_bytes,fullblock skip=${offset} count=${length} status=none`
    let received = 0
    const running = this.conn.execStream(command, signal ? { signal } : {})
    for await (const chunk of running.stdout) {
      received += chunk.length
      if (received > length) throw new AdapterError('BAD_RESPONSE', `${this.label} sent more bytes than asked for.`)
      yield chunk
    }
    const result = await running.done
    if (result.code !== 0) {
      throw new AdapterError('COMMAND_FAILED', `Reading ${this.label} failed: ${result.stderr.trim().slice(0, 300) || `exit ${result.code ?? '?'}`}`)
    }
    if (received !== length) throw new AdapterError('BAD_RESPONSE', `${this.label} ended after ${received} of ${length} bytes.`)
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await new Promise<void>((resolve) => this.sftp.close(this.handle, () => resolve()))
  }

  private checkRange(offset: number, length: number): void {
    if (this.closed) throw new AdapterError('CONNECTION_LOST', `${this.label} is closed.`)
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new RangeError(`Read of ${length} bytes at ${offset} is outside ${this.label} (${this.size} bytes)`)
    }
  }
}

function sftpError(err: Error & { code?: number | string }, conn: SshConnection, path: string): AdapterError {
  // SFTP status codes: 2 = no such file, 3 = permission denied.
  if (err.code === 2) return new AdapterError('NOT_FOUND', `${path} does not exist on ${conn.label}.`, { path })
  if (err.code === 3) return new AdapterError('PERMISSION_DENIED', `${conn.label} does not let this user read ${path}.`, { path })
  return new AdapterError('COMMAND_FAILED', `Reading ${path} on ${conn.label} failed: ${err.message}`, { path }, { cause: err })
}
