import { constants } from 'node:fs'
import { link, lstat, readFile, rename, rm } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { basename, dirname, join } from 'node:path'
import { FilesystemError } from '../errors'
import { RawFile } from './raw-file'
import type { Pacer } from '../pace'
import type { DataPiece, FsNode, Volume } from '../types'

/** The source (the guest's disk) failed while a file was read: that file is lost, the target is fine. */
export class SourceReadError extends Error {
  override readonly name = 'SourceReadError'
}

/** Bytes the restore may still write to the target, shared by all its files. */
export interface WriteBudget {
  left: number
  readonly free: number
}

const BLOCK = 4096
const ZERO = Buffer.alloc(BLOCK)

export interface SparseWriteOptions {
  readonly signal?: AbortSignal
  readonly pacer: Pacer
  readonly budget: WriteBudget
  /** Called once the file's temporary twin exists on the target, before any byte is read. */
  readonly onCreated?: () => void
  /** Permission bits (already stripped of setuid/setgid/sticky) and times to give the file before it is named. */
  readonly mode?: number
  readonly times?: { readonly atime: Date; readonly mtime: Date }
  /** The process's umask, when known (processUmask): lets an empty file be created with its mode at once. */
  readonly umask?: number
  /** The file's folder was created by this restore (nothing can be under the name yet but a racing process). */
  readonly freshFolder?: boolean
  /** Write this named NTFS data stream of the file instead of its main data. */
  readonly stream?: { readonly name: string; readonly size: number }
}

/**
 * What a file is written as until it is complete: hidden, beside its final name, and marked so that anyone who finds
 * one after a hard stop (kill -9, a crash, power off) knows it for an unfinished restore and not a file of the guest.
 */
export const PART_MARK = '.lifeboat-part-'

/**
 * Writes one file so that holes stay holes, like `cp --sparse=auto`: holes the filesystem records are never read
 * (Volume.readData), all-zero 4 KiB blocks that were stored are not written, and the length is set last with
 * ftruncate. Only real data counts against the budget, so a hostile image cannot fill the disk beyond what was
 * checked. The data goes to a temporary name made exclusively beside `out` (see partPath) and takes the final name
 * only once complete, so a stop at any moment never leaves a half file under a name that looks restored; on any
 * failure or cancel the temporary file is removed. An existing `out` is never overwritten (EEXIST), as before.
 */
export async function writeSparseFile(volume: Volume, node: FsNode, out: string, options: SparseWriteOptions): Promise<{ written: number }> {
  const size = options.stream?.size ?? node.entry.size
  if (size === 0) return writeEmptyFile(out, options)
  // Fails before anything is read, as the exclusive create of `out` itself used to; commit() checks again. In a
  // folder this restore has just made nothing else can be there yet, and commit()'s link(2) is the real guard.
  if (options.freshFolder !== true) await refuseExisting(out)
  const part = partPath(out)
  const fh = await RawFile.open(part, CREATE_FLAGS, 0o600)
  options.onCreated?.()
  let done = false
  let written: number
  try {
    try {
      const copied = await copyData(volume, node, fh, size, options)
      written = copied.written
      // Only a file ending in a hole (or in zero blocks not written) needs its length set.
      if (copied.end !== size) await fh.truncate(size)
      await setAttributes(fh, options)
    } finally {
      await fh.close()
    }
    await commit(part, out)
    done = true
  } finally {
    if (!done) await rm(part, { force: true })
  }
  return { written }
}

/**
 * An empty file is whole the moment it exists: it is created under its final name, exclusively and without
 * following links (so nothing is overwritten, as by commit()), with no temporary twin and nothing read. This is most
 * of the cost of restoring folders of many empty files (lock files, markers, caches).
 */
async function writeEmptyFile(out: string, options: SparseWriteOptions): Promise<{ written: number }> {
  // Created with its final permission bits when the umask leaves them as they are, which saves an fchmod per file.
  const direct = options.mode !== undefined && options.umask !== undefined && (options.mode & options.umask) === 0
  let fh: RawFile
  try {
    fh = await RawFile.open(out, CREATE_FLAGS, direct ? (options.mode ?? 0o600) : 0o600)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw alreadyExists(out)
    throw err
  }
  options.onCreated?.()
  let done = false
  try {
    await setAttributes(fh, direct ? { times: options.times } : options)
    done = true
  } finally {
    await fh.close()
    if (!done) await rm(out, { force: true })
  }
  return { written: 0 }
}

/** Permission bits and times, on the open file: they are in place before the file takes its name. */
async function setAttributes(fh: RawFile, options: Pick<SparseWriteOptions, 'mode' | 'times'>): Promise<void> {
  if (options.mode !== undefined) await fh.chmod(options.mode)
  if (options.times) await fh.utimes(options.times.atime, options.times.mtime)
}

/** Bytes written, and where the last written byte ends. */
async function copyData(volume: Volume, node: FsNode, fh: RawFile, size: number, options: SparseWriteOptions): Promise<{ written: number; end: number }> {
  const { signal } = options
  const pieces = (options.stream ? streamPieces(volume, node, options.stream.name, signal) : volume.readData(node, signal ? { signal } : {}))[Symbol.asyncIterator]()
  let written = 0
  let end = 0
  let pos = 0
  for (;;) {
    let next: IteratorResult<DataPiece>
    try {
      next = await pieces.next()
    } catch (err) {
      if (signal?.aborted) throw err
      throw new SourceReadError(`could not be read from the disk image: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
    if (next.done) break
    const { offset, data } = next.value
    if (offset < pos) throw new SourceReadError(`its data pieces overlap (at byte ${offset}); the image is damaged`)
    const length = Math.min(data.length, size - offset)
    if (length <= 0) break
    const piece = await writeNonZero(fh, data.subarray(0, length), offset, options)
    written += piece.written
    if (piece.written > 0) end = piece.end
    pos = offset + length
  }
  return { written, end }
}

/** A named stream has no hole map to consult: its bytes, in order, as pieces (zero blocks are still not written). */
async function* streamPieces(volume: Volume, node: FsNode, stream: string, signal?: AbortSignal): AsyncIterable<DataPiece> {
  let offset = 0
  for await (const data of volume.readNode(node, { stream, ...(signal ? { signal } : {}) })) {
    yield { offset, data }
    offset += data.length
  }
}

/** O_NOFOLLOW is not on Windows (where it reads as 0); O_EXCL alone already refuses to follow a link there. */
const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | ((constants as Partial<Record<string, number>>).O_NOFOLLOW ?? 0)

/** The longest a name may be (bytes, which also bounds UTF-16 units) so that its temporary twin still fits in 255. */
const NAME_ROOM = 255 - 1 - PART_MARK.length - 12

/** `.NAME.lifeboat-part-RANDOM` beside `out`; a long NAME is shortened (never split inside a character) to fit. */
export function partPath(out: string): string {
  let name = basename(out)
  if (Buffer.byteLength(name) > NAME_ROOM) {
    const chars = Array.from(name)
    while (Buffer.byteLength(chars.join('')) > NAME_ROOM) chars.pop()
    name = chars.join('')
  }
  return join(dirname(out), `.${name}${PART_MARK}${randomBytes(6).toString('hex')}`)
}

function alreadyExists(out: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`EEXIST: ${out} already exists in the restore folder and was not overwritten`), { code: 'EEXIST', path: out })
}

/** Anything under the name (a file, a folder, a link — not followed, a pipe — not opened) stops this file. */
async function refuseExisting(out: string): Promise<void> {
  const existing = await lstat(out).catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw e
  })
  if (existing !== undefined) throw alreadyExists(out)
}

/** Errors of link(2) meaning the target's filesystem has no hard links (FAT, exFAT, some network shares). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'])

/**
 * Gives the complete file its final name without replacing anything that appeared there meanwhile: link(2) fails
 * with EEXIST where rename(2) would overwrite. Without hard links the name is looked at once more and then renamed
 * to, which leaves only the moment between the two to chance. No fsync: the restore has never promised more than
 * the page cache gives (a process killed at any point leaves whole files; a power cut may not), and one per file
 * would make restores of many small files many times slower.
 */
async function commit(part: string, out: string): Promise<void> {
  try {
    await link(part, out)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') throw alreadyExists(out)
    if (code === undefined || !NO_HARD_LINKS.has(code)) throw err
    await refuseExisting(out)
    await rename(part, out)
    return
  }
  await rm(part, { force: true })
}

async function writeNonZero(fh: RawFile, buf: Buffer, offset: number, options: SparseWriteOptions): Promise<{ written: number; end: number }> {
  const blockEnd = (i: number): number => Math.min(buf.length, i + BLOCK - ((offset + i) % BLOCK))
  const zero = (s: number, e: number): boolean => buf.compare(ZERO, 0, e - s, s, e) === 0
  let written = 0
  let end = 0
  for (let i = 0; i < buf.length; ) {
    options.signal?.throwIfAborted()
    let j = blockEnd(i)
    if (zero(i, j)) {
      i = j
      continue
    }
    while (j < buf.length && !zero(j, blockEnd(j))) j = blockEnd(j)
    const length = j - i
    if (length > options.budget.left) {
      throw new FilesystemError('limit', `Restore stopped: the files hold more data than the ${options.budget.free} bytes that were free on the target (the disk image understated their size)`, { free: options.budget.free })
    }
    options.budget.left -= length
    for (let at = i; at < j; ) {
      const bytesWritten = await fh.write(buf, at, j - at, offset + at)
      if (bytesWritten <= 0) throw new Error(`Writing to the restore folder made no progress at byte ${offset + at}`)
      at += bytesWritten
    }
    written += length
    end = offset + j
    i = j
  }
  await options.pacer()
  return { written, end }
}

/**
 * The umask, read from /proc/self/status (Linux): process.umask() reads it by setting it to 0 and back, which for
 * that moment would let any thread create files without it. Undefined elsewhere (then modes are set by fchmod).
 */
export async function processUmask(): Promise<number | undefined> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '')
  const m = /^Umask:\s*([0-7]+)$/m.exec(status)
  return m?.[1] !== undefined ? parseInt(m[1], 8) : undefined
}
