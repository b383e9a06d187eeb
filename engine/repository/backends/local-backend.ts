import { open, mkdir, readdir, rename, rm, stat, unlink } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { DirectWriter } from './direct-writer.js'
import { ObjectTooLargeError, TEMP_MARKER, assertValidKey, assertValidPrefix, getTarget, type GetOptions, type ObjectInfo, type RepositoryBackend } from '../backend.js'

/**
 * Restore points are whole disk images, often unencrypted: only the user running Lifeboat may read them. Modes
 * are passed at creation (the umask can only take bits away, never add group/other ones).
 */
export const PRIVATE_DIR_MODE = 0o700
export const PRIVATE_FILE_MODE = 0o600

export interface LocalBackendOptions {
  /** The repository folder. It is created by initRepository, not here. */
  readonly path: string
}

/**
 * The default backend: one file per object under a folder. put() writes a temp file in the target folder and
 * renames it over the final name, so readers see the old object or the new one, never a part. Durability is
 * batched: a background syncer fsyncs written files one at a time while the backup goes on (so data streams to
 * the disk without blocking the pipeline), and flush() waits for it and then fsyncs the folders touched. The
 * repository calls flush() before it writes a manifest and after, so a point never refers to a chunk that is not
 * on disk; a crash before that leaves only unreferenced files, which GC removes. Every folder it creates (the
 * repository's own root included) is 0700 and every file 0600; a root that already existed keeps its mode.
 */
export function localBackend(options: LocalBackendOptions): RepositoryBackend {
  return new LocalBackend(path.resolve(options.path))
}

class LocalBackend implements RepositoryBackend {
  readonly label: string
  private readonly dirtyDirs = new Set<string>()
  private readonly knownDirs = new Set<string>()
  private readonly unsynced: string[] = []
  private syncer: Promise<void> | undefined
  private syncError: Error | undefined
  /** Large objects (chunks) bypass the page cache where the filesystem allows it. */
  private readonly direct = new DirectWriter()

  constructor(private readonly root: string) {
    this.label = root
  }

  private file(key: string): string {
    assertValidKey(key)
    return path.join(this.root, ...key.split('/'))
  }

  async get(key: string, options: GetOptions): Promise<Buffer | undefined> {
    options.signal?.throwIfAborted()
    let handle
    try {
      handle = await open(this.file(key), 'r')
    } catch (error) {
      if (isNotFound(error)) return undefined
      throw error
    }
    try {
      const { size } = await handle.stat()
      if (size > options.maxBytes) throw new ObjectTooLargeError(key, size, options.maxBytes)
      const buffer = getTarget(options, size)
      let done = 0
      while (done < size) {
        const { bytesRead } = await handle.read(buffer, done, size - done, done)
        if (bytesRead === 0) break
        done += bytesRead
      }
      // The file shrank under us (a concurrent GC): report it as missing rather than return a short object.
      return done === size ? buffer : undefined
    } finally {
      await handle.close()
    }
  }

  async put(key: string, data: Uint8Array | readonly Uint8Array[], signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted()
    const final = this.file(key)
    const dir = path.dirname(final)
    await this.ensureDir(dir)
    const temp = `${final}${TEMP_MARKER}${randomBytes(6).toString('hex')}`
    let renamed = false
    try {
      const parts = data instanceof Uint8Array ? [data] : data.filter((p) => p.length > 0)
      const total = parts.reduce((sum, p) => sum + p.length, 0)
      if (!(await this.direct.write(temp, parts, total, PRIVATE_FILE_MODE))) await writeBuffered(temp, parts, total)
      await rename(temp, final)
      renamed = true
      this.dirtyDirs.add(dir)
      this.unsynced.push(final)
      this.syncer ??= this.syncInBackground()
    } finally {
      if (!renamed) await rm(temp, { force: true })
    }
  }

  async flush(signal?: AbortSignal): Promise<void> {
    // Take over what the background syncer has not reached yet and do it with more parallelism, now that
    // someone waits for it; then wait for the files the syncer is still busy with.
    const rest = this.unsynced.splice(0)
    for (let i = 0; i < rest.length; i += 8) await Promise.all(rest.slice(i, i + 8).map((file) => fsyncPath(file)))
    await this.syncer
    if (this.syncError !== undefined) {
      const error = this.syncError
      this.syncError = undefined
      throw error
    }
    for (const dir of [...this.dirtyDirs]) {
      signal?.throwIfAborted()
      await fsyncPath(dir)
      this.dirtyDirs.delete(dir)
    }
  }

  /**
   * fsyncs written files in the background, oldest first, two at a time: enough to keep the disk busy while the
   * backup computes, without taking over the I/O thread pool that reads and writes share.
   */
  private async syncInBackground(): Promise<void> {
    const lane = async (): Promise<void> => {
      for (let file = this.unsynced.shift(); file !== undefined; file = this.unsynced.shift()) {
        try {
          await fsyncPath(file)
        } catch (error) {
          this.syncError ??= error instanceof Error ? error : new Error(String(error))
        }
      }
    }
    try {
      await Promise.all([lane(), lane()])
    } finally {
      this.syncer = undefined
    }
  }

  async *list(prefix: string, signal?: AbortSignal): AsyncIterable<ObjectInfo> {
    assertValidPrefix(prefix)
    const start = prefix === '' ? this.root : path.join(this.root, ...prefix.slice(0, -1).split('/'))
    yield* this.walk(start, prefix, signal)
  }

  private async *walk(dir: string, keyPrefix: string, signal?: AbortSignal): AsyncIterable<ObjectInfo> {
    signal?.throwIfAborted()
    let entries
    try {
      entries = await readdir(dir, { withFileTypes: true })
    } catch (error) {
      if (isNotFound(error)) return
      throw error
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name)
      if (entry.isDirectory()) {
        yield* this.walk(full, `${keyPrefix}${entry.name}/`, signal)
      } else if (entry.isFile()) {
        try {
          const s = await stat(full)
          yield { key: `${keyPrefix}${entry.name}`, size: s.size, mtimeMs: s.mtimeMs }
        } catch (error) {
          if (!isNotFound(error)) throw error
        }
      }
    }
  }

  async stat(key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined> {
    signal?.throwIfAborted()
    try {
      const s = await stat(this.file(key))
      return s.isFile() ? { key, size: s.size, mtimeMs: s.mtimeMs } : undefined
    } catch (error) {
      if (isNotFound(error)) return undefined
      throw error
    }
  }

  async delete(key: string, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted()
    const file = this.file(key)
    try {
      await unlink(file)
      this.dirtyDirs.add(path.dirname(file))
    } catch (error) {
      if (!isNotFound(error)) throw error
    }
  }

  async close(): Promise<void> {
    await this.flush()
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return
    let created: string | undefined
    try {
      created = await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE })
    } catch (error) {
      // Node's recursive mkdir reports ENOENT when the disk is full; a plain mkdir tells the real reason.
      if (!isNotFound(error)) throw error
      await mkdir(dir, PRIVATE_DIR_MODE).catch((inner: unknown) => {
        if ((inner as { code?: unknown }).code !== 'EEXIST') throw inner
      })
      created = dir
    }
    if (created !== undefined) {
      // A new folder must itself reach the disk, or a crash could lose every object inside it.
      for (let d = dir; d.length >= this.root.length; d = path.dirname(d)) {
        this.dirtyDirs.add(d)
        if (d === this.root) break
      }
      this.dirtyDirs.add(path.dirname(created))
    }
    this.knownDirs.add(dir)
  }
}

/** Writes a new file through the page cache: one vectored write, finished with plain writes if it came up short. */
async function writeBuffered(temp: string, parts: readonly Uint8Array[], total: number): Promise<void> {
  const handle = await open(temp, 'wx', PRIVATE_FILE_MODE)
  try {
    let done = parts.length > 1 ? (await handle.writev([...parts], 0)).bytesWritten : 0
    // A short vectored write is rare on a local disk; finish with plain writes from where it stopped.
    let skip = done
    for (const part of parts) {
      if (skip >= part.length) {
        skip -= part.length
        continue
      }
      let at = skip
      skip = 0
      while (at < part.length) {
        const { bytesWritten } = await handle.write(part, at, part.length - at, done)
        at += bytesWritten
        done += bytesWritten
      }
    }
    if (done !== total) throw new Error(`short write: ${done} of ${total} bytes`)
  } finally {
    await handle.close()
  }
}

/** Makes a file or a folder durable; one deleted since (a released lock) has nothing left to make durable. */
async function fsyncPath(file: string): Promise<void> {
  let handle
  try {
    handle = await open(file, 'r')
  } catch (error) {
    if (isNotFound(error)) return
    throw error
  }
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

function isNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return code === 'ENOENT' || code === 'ENOTDIR'
}
