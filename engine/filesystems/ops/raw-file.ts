import { close, fchmod, ftruncate, futimes, open, write } from 'node:fs'
import { promisify } from 'node:util'

/**
 * A file descriptor with the few calls the restore's writer needs. Plain descriptors through fs's callback calls,
 * not fs/promises FileHandles: a restore of many small files makes a handful of these calls per file, and a
 * FileHandle's bookkeeping (an object per file for the garbage collector, close-on-collect tracking) cost as much as
 * the system calls themselves. Every descriptor is closed by its owner in `finally`.
 */
export class RawFile {
  private constructor(readonly fd: number) {}

  static async open(path: string, flags: number, mode: number): Promise<RawFile> {
    return new RawFile(await openFd(path, flags, mode))
  }

  async write(buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    return writeFd(this.fd, buf, offset, length, position)
  }

  truncate(length: number): Promise<void> {
    return truncateFd(this.fd, length)
  }

  chmod(mode: number): Promise<void> {
    return chmodFd(this.fd, mode)
  }

  utimes(atime: Date, mtime: Date): Promise<void> {
    return utimesFd(this.fd, atime, mtime)
  }

  close(): Promise<void> {
    return closeFd(this.fd)
  }
}

const openFd = promisify(open) as (path: string, flags: number, mode: number) => Promise<number>
const writeFd = (fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number> =>
  new Promise((resolve, reject) => write(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))))
const truncateFd = promisify(ftruncate)
const chmodFd = promisify(fchmod)
const utimesFd = promisify(futimes)
const closeFd = promisify(close)
