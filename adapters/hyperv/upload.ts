import type { SFTPWrapper } from 'ssh2'
import { AdapterError, throwIfAborted, type ImagePiece } from '../host-adapter'
import type { SshConnection } from '../ssh/ssh-connection'
import { sftpErrorCode, sftpPath } from './windows-file'

const PIECE = 256 * 1024
const IN_FLIGHT = 16

function call(fn: (cb: (err: Error | null | undefined) => void) => void, what: string): Promise<void> {
  return new Promise((resolve, reject) => fn((err) => (err ? reject(new AdapterError(sftpErrorCode(err), `${what}: ${err.message}`, {}, { cause: err })) : resolve())))
}

/**
 * Writes an image file to a Windows host over SFTP: into `<path>.partial` (created exclusively, never overwriting),
 * pieces at their offsets with several writes in flight, zero runs skipped (Windows fills them with zeros), and
 * renamed to `path` only when complete — a half-written disk never carries the real name.
 */
export async function uploadFile(conn: SshConnection, winPath: string, pieces: AsyncIterable<ImagePiece>, progress: (bytes: number) => void, signal: AbortSignal): Promise<number> {
  const sftp: SFTPWrapper = await conn.sftp()
  const partial = `${winPath}.partial`
  const remote = sftpPath(partial)
  const handle = await new Promise<Buffer>((resolve, reject) =>
    sftp.open(remote, 'wx', (err, h) => (err ? reject(new AdapterError(sftpErrorCode(err), `Creating ${partial} on the host failed: ${err.message}`, { path: partial })) : resolve(h))),
  )
  let pos = 0
  let written = 0
  const inflight = new Set<Promise<void>>()
  const state: { failure?: Error } = {}
  const check = () => {
    if (state.failure !== undefined) throw state.failure
  }
  const write = (data: Buffer, at: number) => {
    const p = call((cb) => sftp.write(handle, data, 0, data.length, at, cb), `Writing ${partial}`).then(
      () => {
        inflight.delete(p)
      },
      (err: unknown) => {
        inflight.delete(p)
        state.failure ??= err instanceof Error ? err : new Error(String(err))
      },
    )
    inflight.add(p)
  }
  let complete = false
  try {
    for await (const piece of pieces) {
      throwIfAborted(signal, 'Uploading the disk')
      check()
      if (piece.kind === 'zeros') {
        pos += piece.length
        continue
      }
      for (let at = 0; at < piece.data.length; at += PIECE) {
        while (inflight.size >= IN_FLIGHT) await Promise.race(inflight)
        check()
        write(piece.data.subarray(at, Math.min(piece.data.length, at + PIECE)), pos + at)
      }
      pos += piece.data.length
      written = pos
      progress(pos)
    }
    await Promise.all(inflight)
    check()
    // A trailing run of zeros still has to make the file that long.
    if (pos > written) await call((cb) => sftp.write(handle, Buffer.alloc(1), 0, 1, pos - 1, cb), `Writing ${partial}`)
    progress(pos)
    complete = true
  } finally {
    await Promise.allSettled([...inflight])
    await new Promise<void>((resolve) => sftp.close(handle, () => resolve()))
    if (!complete) await call((cb) => sftp.unlink(remote, cb), `Removing ${partial}`).catch(() => undefined)
  }
  await call((cb) => sftp.rename(remote, sftpPath(winPath), cb), `Renaming ${partial} to ${winPath}`).catch(async (err: unknown) => {
    await call((cb) => sftp.unlink(remote, cb), `Removing ${partial}`).catch(() => undefined)
    throw err
  })
  return pos
}

export async function removeFile(conn: SshConnection, winPath: string): Promise<void> {
  const sftp = await conn.sftp()
  await call((cb) => sftp.unlink(sftpPath(winPath), cb), `Removing ${winPath}`)
}

/** Removes an empty folder (SFTP refuses a folder that still holds files); one that is not there counts as removed. */
export async function removeEmptyFolder(conn: SshConnection, winPath: string): Promise<void> {
  const sftp = await conn.sftp()
  await call((cb) => sftp.rmdir(sftpPath(winPath), cb), `Removing the folder ${winPath}`).catch((err: unknown) => {
    if (!(err instanceof AdapterError && err.code === 'NOT_FOUND')) throw err
  })
}
