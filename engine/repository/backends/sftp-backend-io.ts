import type { FileEntryWithStats, SFTPWrapper, Stats } from 'ssh2'

/** SFTP v3 status codes (draft-ietf-secsh-filexfer-02 §7) the backend tells apart. */
export const SFTP_EOF = 1
export const SFTP_NO_SUCH_FILE = 2
export const SFTP_PERMISSION_DENIED = 3
export const SFTP_FAILURE = 4

/** A failed SFTP request. `status` is the server's status code, or undefined when the session itself failed. */
export class SftpRequestError extends Error {
  override readonly name = 'SftpRequestError'
  constructor(
    message: string,
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/**
 * A write that failed because the server's filesystem is full. SFTP v3 has no status for that (OpenSSH answers a bare
 * SSH_FX_FAILURE); the backend finds out with statvfs@openssh.com. `code` is what toRepositoryError() maps to NO_SPACE.
 */
export class SftpNoSpaceError extends SftpRequestError {
  readonly code = 'ENOSPC'
}

export function sftpStatus(error: unknown): number | undefined {
  return error instanceof SftpRequestError ? error.status : undefined
}

export function isNoSuchFile(error: unknown): boolean {
  return sftpStatus(error) === SFTP_NO_SUCH_FILE
}

/**
 * Tracks one SFTP session so that no request can wait forever: ssh2 silently drops requests written after the
 * channel closed, and a server may simply never answer. Every request fails when the session closes, when the
 * caller aborts, or after `timeoutMs` without an answer.
 */
export class SftpSession {
  private closed = false
  private readonly pending = new Set<(error: Error) => void>()

  constructor(
    readonly sftp: SFTPWrapper,
    private readonly describe: (what: string) => string,
    private readonly timeoutMs: number,
  ) {
    const onGone = () => {
      this.closed = true
      const lost = new SftpRequestError(this.describe('the SFTP session closed (the SSH connection was lost?)'), undefined)
      for (const fail of [...this.pending]) fail(lost)
    }
    sftp.once('close', onGone)
    sftp.once('end', onGone)
  }

  get isOpen(): boolean {
    return !this.closed
  }

  /** Runs one SFTP request; `start` issues it and calls `done` exactly once (ssh2 callback style). */
  request<T>(what: string, signal: AbortSignal | undefined, start: (done: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.closed) {
        reject(new SftpRequestError(this.describe(`${what}: the SFTP session is closed`), undefined))
        return
      }
      if (signal?.aborted === true) {
        reject(abortError())
        return
      }
      let settled = false
      const finish = (error: Error | undefined, value?: T) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        this.pending.delete(fail)
        signal?.removeEventListener('abort', onAbort)
        if (error) reject(error)
        else resolve(value as T)
      }
      const fail = (error: Error) => finish(error)
      const onAbort = () => finish(abortError())
      const timer = setTimeout(() => finish(new SftpRequestError(this.describe(`${what}: no answer in ${Math.round(this.timeoutMs / 1000)} s`), undefined)), this.timeoutMs)
      timer.unref()
      this.pending.add(fail)
      signal?.addEventListener('abort', onAbort, { once: true })
      try {
        start((err, value) => finish(err ? toRequestError(err, this.describe(what)) : undefined, value))
      } catch (error) {
        // ssh2 throws synchronously for arguments it refuses and for extensions the server did not offer.
        finish(toRequestError(error, this.describe(what)))
      }
    })
  }

  open(path: string, flags: 'r' | 'wx', signal?: AbortSignal): Promise<Buffer> {
    return this.request(`opening ${path}`, signal, (done) => this.sftp.open(path, flags, done))
  }

  close(handle: Buffer): Promise<void> {
    return this.request('closing a file', undefined, (done) => this.sftp.close(handle, done))
  }

  fstat(handle: Buffer, path: string, signal?: AbortSignal): Promise<Stats> {
    return this.request(`reading the size of ${path}`, signal, (done) => this.sftp.fstat(handle, done))
  }

  stat(path: string, signal?: AbortSignal): Promise<Stats> {
    return this.request(`looking at ${path}`, signal, (done) => this.sftp.stat(path, done))
  }

  /** Reads up to `length` bytes at `position` into `target`; resolves with the count (0 at end of file). */
  read(handle: Buffer, target: Buffer, offset: number, length: number, position: number, path: string, signal?: AbortSignal): Promise<number> {
    return this.request(`reading ${path}`, signal, (done) => this.sftp.read(handle, target, offset, length, position, (err, bytesRead) => done(err, bytesRead)))
  }

  write(handle: Buffer, data: Buffer, position: number, path: string, signal?: AbortSignal): Promise<void> {
    return this.request(`writing ${path}`, signal, (done) => this.sftp.write(handle, data, 0, data.length, position, (err) => done(err)))
  }

  fsync(handle: Buffer, path: string, signal?: AbortSignal): Promise<void> {
    return this.request(`syncing ${path} to disk`, signal, (done) => this.sftp.ext_openssh_fsync(handle, (err) => done(err)))
  }

  /** POSIX rename (replaces `to`); throws synchronously inside when the server does not offer the extension. */
  posixRename(from: string, to: string, signal?: AbortSignal): Promise<void> {
    return this.request(`renaming ${from} to ${to}`, signal, (done) => this.sftp.ext_openssh_rename(from, to, done))
  }

  /** Plain SFTP v3 rename: servers refuse it when `to` exists (OpenSSH links then unlinks). */
  rename(from: string, to: string, signal?: AbortSignal): Promise<void> {
    return this.request(`renaming ${from} to ${to}`, signal, (done) => this.sftp.rename(from, to, done))
  }

  unlink(path: string, signal?: AbortSignal): Promise<void> {
    return this.request(`removing ${path}`, signal, (done) => this.sftp.unlink(path, done))
  }

  mkdir(path: string, signal?: AbortSignal): Promise<void> {
    return this.request(`creating the folder ${path}`, signal, (done) => this.sftp.mkdir(path, done))
  }

  opendir(path: string, signal?: AbortSignal): Promise<Buffer> {
    return this.request(`listing ${path}`, signal, (done) => this.sftp.opendir(path, done))
  }

  /** One batch of directory entries, or undefined at the end of the directory. */
  async readdirBatch(handle: Buffer, path: string, signal?: AbortSignal): Promise<FileEntryWithStats[] | undefined> {
    try {
      return await this.request<FileEntryWithStats[]>(`listing ${path}`, signal, (done) => this.sftp.readdir(handle, done))
    } catch (error) {
      if (sftpStatus(error) === SFTP_EOF) return undefined
      throw error
    }
  }

  /** Bytes an unprivileged user may still write on the filesystem holding `path` (statvfs@openssh.com). */
  async freeBytes(path: string, signal?: AbortSignal): Promise<number | undefined> {
    const info = await this.request<unknown>(`asking how much room is left at ${path}`, signal, (done) => this.sftp.ext_openssh_statvfs(path, (err, fsInfo: unknown) => done(err, fsInfo)))
    const { f_bavail: blocks, f_frsize: size } = (info ?? {}) as { f_bavail?: unknown; f_frsize?: unknown }
    const count = (v: unknown): number | undefined => (typeof v === 'number' || typeof v === 'bigint' ? Number(v) : undefined)
    const free = (count(blocks) ?? NaN) * (count(size) ?? NaN)
    return Number.isFinite(free) && free >= 0 ? free : undefined
  }

  /** Whether the server offers an OpenSSH extension (ssh2 refuses to send one that was not offered). */
  offers(extension: 'posix-rename@openssh.com' | 'fsync@openssh.com' | 'statvfs@openssh.com'): boolean {
    // ssh2 keeps the server's VERSION extensions here; the typings do not declare it, so read it defensively.
    const extensions = (this.sftp as unknown as { _extensions?: unknown })._extensions
    if (typeof extensions !== 'object' || extensions === null) return false
    const version = (extensions as Record<string, unknown>)[extension]
    // OpenSSH offers statvfs at version 2 (the reply's layout), the others at version 1.
    return version === (extension === 'statvfs@openssh.com' ? '2' : '1')
  }
}

function toRequestError(error: unknown, what: string): SftpRequestError {
  const e = error as { code?: unknown; message?: unknown } | null
  const status = typeof e?.code === 'number' ? e.code : undefined
  // The server's message is shown to the admin: keep it short and printable (it is not ours to trust).
  const detail = typeof e?.message === 'string' ? e.message.replace(/[^\x20-\x7e]/g, '?').slice(0, 200) : 'unknown error'
  return new SftpRequestError(`${what}: ${detail}`, status, { cause: error })
}

function abortError(): Error {
  const error = new Error('The operation was aborted.')
  error.name = 'AbortError'
  return error
}
