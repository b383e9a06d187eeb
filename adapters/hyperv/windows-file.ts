import type { SFTPWrapper } from 'ssh2'
import { AdapterError, throwIfAborted, type RemoteFile } from '../host-adapter'
import type { SshConnection } from '../ssh/ssh-connection'

const STREAM_PIECE = 256 * 1024
const STREAM_IN_FLIGHT = 16

/**
 * Windows OpenSSH names files as /C:/dir/file. Only drive-letter paths are accepted: UNC paths (\\server\share,
 * Cluster Shared Volumes through SMB) are not reachable through sftp-server.
 */
export function sftpPath(winPath: string): string {
  const m = /^([A-Za-z]):[\\/](.*)$/.exec(winPath)
  if (m?.[1] === undefined) throw new AdapterError('NOT_SUPPORTED', `Lifeboat reads Hyper-V disks over SFTP, which cannot reach "${winPath.slice(0, 200)}" (only drive-letter paths such as C:\\…).`, { path: winPath })
  const rest = (m[2] ?? '').split(/[\\/]+/).filter((p) => p !== '')
  if (rest.some((p) => p === '..')) throw new AdapterError('BAD_RESPONSE', `The host named a disk path with "..": ${winPath.slice(0, 200)}`)
  return `/${m[1].toUpperCase()}:/${rest.join('/')}`
}

/** SFTP status → adapter error code (2 no such file, 3 permission denied — also what a sharing violation becomes). */
export function sftpErrorCode(err: Error & { code?: number | string }): 'NOT_FOUND' | 'PERMISSION_DENIED' | 'COMMAND_FAILED' {
  return err.code === 2 ? 'NOT_FOUND' : err.code === 3 ? 'PERMISSION_DENIED' : 'COMMAND_FAILED'
}

function sftpError(err: Error & { code?: number | string }, label: string, path: string): AdapterError {
  const code = sftpErrorCode(err)
  if (code === 'NOT_FOUND') return new AdapterError('NOT_FOUND', `${path} does not exist on ${label}.`, { path })
  if (code === 'PERMISSION_DENIED') return new AdapterError('PERMISSION_DENIED', `${label} does not let Lifeboat open ${path} (in use by a running VM, or access denied): ${err.message}`, { path })
  return new AdapterError('COMMAND_FAILED', `Reading ${path} on ${label} failed: ${err.message}`, { path }, { cause: err })
}

/**
 * A file on a Windows host read over SFTP: random reads for the image stack, and a pipelined sequential stream
 * (several reads in flight, delivered in order) for bulk copies — Windows has no dd/cat to stream through exec.
 */
export class WindowsSftpFile implements RemoteFile {
  private closed = false

  private constructor(
    private readonly sftp: SFTPWrapper,
    private readonly handle: Buffer,
    readonly path: string,
    readonly size: number,
    readonly label: string,
  ) {}

  static async open(conn: SshConnection, winPath: string, signal?: AbortSignal): Promise<WindowsSftpFile> {
    throwIfAborted(signal, 'Opening a file on the host')
    const remote = sftpPath(winPath)
    const sftp = await conn.sftp()
    const handle = await new Promise<Buffer>((resolve, reject) => sftp.open(remote, 'r', (err, h) => (err ? reject(sftpError(err, conn.label, winPath)) : resolve(h))))
    try {
      const st = await new Promise<{ size: number }>((resolve, reject) => sftp.fstat(handle, (err, s) => (err ? reject(sftpError(err, conn.label, winPath)) : resolve(s))))
      if (!Number.isSafeInteger(st.size) || st.size < 0) throw new AdapterError('BAD_RESPONSE', `The host reported an impossible size for ${winPath}.`)
      return new WindowsSftpFile(sftp, handle, winPath, st.size, `${conn.label}:${winPath}`)
    } catch (err) {
      sftp.close(handle, () => undefined)
      throw err
    }
  }

  async readRange(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    this.check(offset, length)
    const buffer = Buffer.allocUnsafe(length)
    let done = 0
    while (done < length) {
      throwIfAborted(signal, 'Reading a file on the host')
      const n = await new Promise<number>((resolve, reject) =>
        this.sftp.read(this.handle, buffer, done, length - done, offset + done, (err, bytesRead) => (err ? reject(sftpError(err, this.label, this.path)) : resolve(bytesRead))),
      )
      if (n <= 0) throw new AdapterError('BAD_RESPONSE', `${this.label} ended at ${offset + done} bytes, before its reported size ${this.size}.`)
      done += n
    }
    return buffer
  }

  async *stream(offset: number, length: number, signal?: AbortSignal): AsyncIterable<Buffer> {
    this.check(offset, length)
    const pending: Promise<Buffer>[] = []
    let next = offset
    const end = offset + length
    const fill = () => {
      while (pending.length < STREAM_IN_FLIGHT && next < end) {
        const n = Math.min(STREAM_PIECE, end - next)
        const p = this.readRange(next, n, signal)
        p.catch(() => undefined)
        pending.push(p)
        next += n
      }
    }
    fill()
    while (pending.length > 0) {
      const piece = await (pending.shift() as Promise<Buffer>)
      fill()
      yield piece
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await new Promise<void>((resolve) => this.sftp.close(this.handle, () => resolve()))
  }

  private check(offset: number, length: number): void {
    if (this.closed) throw new AdapterError('CONNECTION_LOST', `${this.label} is closed.`)
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new RangeError(`Read of ${length} bytes at ${offset} is outside ${this.label} (${this.size} bytes)`)
    }
  }
}
