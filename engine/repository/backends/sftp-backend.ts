import { runLanes } from '../../common/lanes.js'
import { randomBytes } from 'node:crypto'
import path from 'node:path/posix'
import type { SFTPWrapper } from 'ssh2'
import type { SshConnection } from '../../../adapters/ssh/ssh-connection.js'
import { AdapterError } from '../../../adapters/host-adapter.js'
import { sh } from '../../../adapters/ssh/shell-quote.js'
import { ObjectTooLargeError, TEMP_MARKER, assertValidKey, assertValidPrefix, getTarget, type GetOptions, type ObjectInfo, type RepositoryBackend } from '../backend.js'
import { SFTP_FAILURE, SFTP_PERMISSION_DENIED, SftpNoSpaceError, SftpRequestError, SftpSession, isNoSuchFile, sftpStatus } from './sftp-backend-io.js'

export interface SftpBackendOptions {
  /** A verified, authenticated connection (pinned host key). */
  readonly connection: SshConnection
  /** The repository folder on the host: an absolute path. It is created by the first write (initRepository). */
  readonly path: string
  /** For messages, e.g. "sftp://backup01/srv/lifeboat". Never put credentials here. Default: from the connection. */
  readonly label?: string
  /** Whether close() also closes the connection (true when the caller opened it only for this backend). */
  readonly ownsConnection?: boolean
  /** A request the server has not answered after this long fails (and so does the operation). Default 5 minutes. */
  readonly requestTimeoutMs?: number
}

/** What the server lets the backend do; decided per SFTP session from the extensions the server announced. */
export interface SftpCapabilities {
  /** posix-rename@openssh.com: put() replaces objects atomically. Without it, see replace() below. */
  readonly posixRename: boolean
  /** fsync@openssh.com: every put() is on the server's disk before it resolves. */
  readonly fsync: boolean
}

export interface SftpBackend extends RepositoryBackend {
  capabilities(): Promise<SftpCapabilities>
  /** Whether flush() could also make folder entries durable (`sync -f` over an exec channel); undefined until tried. */
  readonly folderSync: boolean | undefined
}

/** Bytes per SFTP read/write request: inside OpenSSH's 256 KiB packet limit, so ssh2 never splits (and serialises) one. */
const PIECE = 128 * 1024
/**
 * Requests in flight per object: a whole 4 MiB chunk goes out in one round trip, while a 256 MiB manifest neither
 * queues 256 MiB of packet copies in ssh2 nor lets its last pieces wait behind the first for minutes.
 */
const PIECES_IN_FLIGHT = 32
/**
 * SFTP sessions (channels, each its own sftp-server process on the host) that reads are spread over. One sftp-server
 * answers its requests one after another, reading each piece from disk in turn: with two, a restore's reads keep
 * both going (bench:restore, 2 GiB export from the SSH test host: 6.96 / 7.18 s with one, 5.41 / 5.99 s with two,
 * 5.60 / 5.89 s with three). Writes, listings and renames stay on the first.
 */
const READ_LANES = 2
/** Objects read or written at once. Ingest keeps `2 × workers + 2` puts in flight; this only bounds open handles. */
const MAX_OPEN_OBJECTS = 32
/** A directory with more entries than this is not a Lifeboat folder (a 64 TiB repository has ~64 k per chunk folder). */
const MAX_DIR_ENTRIES = 4_000_000
/** Keys are at most three folders deep (chunks/ab/<id>); anything deeper is not ours and is not walked. */
const MAX_DEPTH = 8

/**
 * A repository in a folder on an SSH host, over SFTP. Every put() writes a temp file next to its final name
 * (pieces pipelined, several objects in flight), fsyncs it with fsync@openssh.com when the server offers it,
 * closes it and renames it over the final name with posix-rename@openssh.com, so readers see the old object or
 * the new one, never a part; a dropped connection leaves at most a `.tmp-` file, which GC removes.
 *
 * SFTP cannot fsync a folder. flush() therefore runs `sync -f` on the repository's filesystem over an exec
 * channel when the account may run commands, so renamed names are durable too before a manifest refers to them;
 * when it may not (an SFTP-only account), names reach the disk with the server filesystem's next journal commit
 * (ext4 and XFS: within seconds) and a power cut in that window can lose the newest objects — never expose a
 * partial one.
 */
export function sftpBackend(options: SftpBackendOptions): SftpBackend {
  const root = path.normalize(options.path)
  if (!path.isAbsolute(root) || options.path.includes('\0')) throw new RangeError('The SFTP repository folder must be an absolute path.')
  return new SftpRepositoryBackend(options, root.length > 1 ? root.replace(/\/+$/, '') : root)
}

class SftpRepositoryBackend implements SftpBackend {
  readonly label: string
  /** Each object costs open, fstat, reads and close in turn: 16 at a time keep the link busy (below MAX_OPEN_OBJECTS). */
  readonly readsInFlight = 16
  folderSync: boolean | undefined
  private readonly conn: SshConnection
  private readonly timeoutMs: number
  private readonly sessions = new WeakMap<SFTPWrapper, SftpSession>()
  private readonly knownDirs = new Set<string>()
  private readonly makingDirs = new Map<string, Promise<void>>()
  private readonly inFlight = new Set<Promise<unknown>>()
  private slots = MAX_OPEN_OBJECTS
  private readLane = 0
  private readLanes = READ_LANES
  private readonly slotWaiters: (() => void)[] = []
  /** Renames or deletes since the last folder sync. */
  private dirty = false

  constructor(
    private readonly options: SftpBackendOptions,
    private readonly root: string,
  ) {
    this.conn = options.connection
    this.label = options.label ?? `sftp://${options.connection.label}${root}`
    this.timeoutMs = options.requestTimeoutMs ?? 5 * 60_000
  }

  private remote(key: string): string {
    assertValidKey(key)
    return `${this.root === '/' ? '' : this.root}/${key}`
  }

  /** A session for reading: the next lane in turn, or the first when the host refused to open another. */
  private async readSession(): Promise<SftpSession> {
    const lane = this.readLanes > 1 ? this.readLane++ % this.readLanes : 0
    if (lane === 0) return await this.session()
    try {
      return await this.session(lane)
    } catch (error) {
      // sshd's MaxSessions, or an SFTP-only setup allowing one: read over the first session from now on.
      if (!(error instanceof AdapterError) || error.code !== 'NOT_SUPPORTED') throw error
      this.readLanes = 1
      return await this.session()
    }
  }

  private async session(lane = 0): Promise<SftpSession> {
    // The connection reopens its SFTP channel if that alone closed; a lost connection throws CONNECTION_LOST.
    const sftp = await this.conn.sftp(lane)
    let session = this.sessions.get(sftp)
    if (session === undefined) {
      session = new SftpSession(sftp, (what) => `${this.label}: ${what}`, this.timeoutMs)
      this.sessions.set(sftp, session)
    }
    return session
  }

  async capabilities(): Promise<SftpCapabilities> {
    const s = await this.session()
    return { posixRename: s.offers('posix-rename@openssh.com'), fsync: s.offers('fsync@openssh.com') }
  }

  async get(key: string, options: GetOptions): Promise<Buffer | undefined> {
    const file = this.remote(key)
    return await this.withSlot(async () => {
      const s = await this.readSession()
      let handle: Buffer
      try {
        handle = await s.open(file, 'r', options.signal)
      } catch (error) {
        if (isNoSuchFile(error)) return undefined
        throw this.explain(error, 'read', key)
      }
      try {
        const size = (await s.fstat(handle, file, options.signal)).size as unknown
        if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new SftpRequestError(`${this.label}: the server reported an impossible size for ${key}`, undefined)
        // The size check comes before any allocation: stored objects and the server's answers are untrusted.
        if (size > options.maxBytes) throw new ObjectTooLargeError(key, size, options.maxBytes)
        const buffer = getTarget(options, size)
        let short = 0
        await inWindows(Math.ceil(size / PIECE), async (i) => {
          const at = i * PIECE
          if (!(await this.readPiece(s, handle, buffer, at, Math.min(PIECE, size - at), file, options.signal))) short++
        })
        // The file shrank under us (a concurrent GC): report it as missing rather than return a short object.
        return short === 0 ? buffer : undefined
      } finally {
        await s.close(handle).catch(() => undefined)
      }
    })
  }

  /** Fills buffer[at, at + length) from the same offset of the file; false when the file ended first. */
  private async readPiece(s: SftpSession, handle: Buffer, buffer: Buffer, at: number, length: number, file: string, signal?: AbortSignal): Promise<boolean> {
    let done = 0
    while (done < length) {
      const n = await s.read(handle, buffer, at + done, length - done, at + done, file, signal)
      if (n <= 0) return false
      done += n
    }
    return true
  }

  async put(key: string, data: Uint8Array | readonly Uint8Array[], signal?: AbortSignal): Promise<void> {
    const final = this.remote(key)
    const running = this.withSlot(() => this.write(key, final, data, signal))
    this.inFlight.add(running)
    try {
      await running
    } finally {
      this.inFlight.delete(running)
    }
  }

  private async write(key: string, final: string, data: Uint8Array | readonly Uint8Array[], signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted()
    await this.ensureDir(path.dirname(final), signal)
    const s = await this.session()
    const temp = `${final}${TEMP_MARKER}${randomBytes(6).toString('hex')}`
    let handle: Buffer | undefined
    let created = false
    try {
      try {
        handle = await s.open(temp, 'wx', signal)
      } catch (error) {
        throw this.explain(error, 'write', key)
      }
      created = true
      const pieces: { bytes: Buffer; position: number }[] = []
      let position = 0
      for (const part of data instanceof Uint8Array ? [data] : data) {
        const bytes = Buffer.from(part.buffer, part.byteOffset, part.byteLength)
        for (let at = 0; at < bytes.length; at += PIECE) pieces.push({ bytes: bytes.subarray(at, Math.min(at + PIECE, bytes.length)), position: position + at })
        position += bytes.length
      }
      // Pieces go out together (ssh2 queues them against the channel window): one round trip, not one per piece.
      const open = handle
      await inWindows(pieces.length, (i) => {
        const piece = pieces[i]
        return piece === undefined ? Promise.resolve() : s.write(open, piece.bytes, piece.position, temp, signal)
      })
      if (s.offers('fsync@openssh.com')) await s.fsync(handle, temp, signal)
      const closing = handle
      handle = undefined
      await s.close(closing)
      await this.replace(s, temp, final, signal)
      created = false
      this.dirty = true
    } catch (error) {
      // Room for every object being written right now (other writers free their temp files as they fail too).
      const size = data instanceof Uint8Array ? data.byteLength : data.reduce((n, part) => n + part.byteLength, 0)
      throw await this.noSpace(s, error, path.dirname(final), Math.max(1, this.inFlight.size) * Math.max(size, PIECE), signal)
    } finally {
      if (handle !== undefined) await s.close(handle).catch(() => undefined)
      // Best effort: on a lost connection the temp file stays, and GC removes it (it is listed like any object).
      if (created) await s.unlink(temp).catch(() => undefined)
    }
  }

  /**
   * Moves the written temp file over the final name. posix-rename@openssh.com is rename(2): atomic, replaces.
   * Without it, SFTP's own RENAME refuses an existing target (OpenSSH implements it as link + unlink), which is
   * exactly what a new object needs; only when the target exists (a rewritten orphan chunk, a lock heartbeat) is
   * the old object first renamed aside under a temp name and removed afterwards. Readers may then briefly see no
   * object — which the backend contract allows — but never a partial one, and a crash in between leaves the old
   * object under a `.tmp-` name, which GC reclaims.
   */
  private async replace(s: SftpSession, temp: string, final: string, signal?: AbortSignal): Promise<void> {
    if (s.offers('posix-rename@openssh.com')) {
      await s.posixRename(temp, final, signal)
      return
    }
    try {
      await s.rename(temp, final, signal)
      return
    } catch (error) {
      if (sftpStatus(error) !== SFTP_FAILURE) throw error
    }
    const aside = `${final}${TEMP_MARKER}${randomBytes(6).toString('hex')}`
    await s.rename(final, aside, signal)
    try {
      await s.rename(temp, final, signal)
    } catch (error) {
      // Put the old object back rather than leave the key empty.
      await s.rename(aside, final).catch(() => undefined)
      throw error
    }
    await s.unlink(aside).catch(() => undefined)
  }

  async flush(signal?: AbortSignal): Promise<void> {
    // Puts that have resolved were fsynced before their rename; wait for those still running, as the local backend does.
    await Promise.allSettled([...this.inFlight])
    if (!this.dirty || this.folderSync === false) return
    this.dirty = false
    await this.syncFolders(signal)
  }

  /**
   * `sync -f` (syncfs) on the repository's filesystem makes renamed and removed names durable, which SFTP itself
   * cannot. The marker tells a real shell from an account whose every command is forced to `internal-sftp`
   * (which would exit 0 without doing anything); any failure turns the attempt off for this backend.
   */
  private async syncFolders(signal?: AbortSignal): Promise<void> {
    try {
      const marker = 'lifeboat-synced'
      const result = await this.conn.exec(sh`sync -f -- ${this.root} && echo ${marker}`, { ...(signal ? { signal } : {}), maxOutputBytes: 4096, timeoutMs: 10 * 60_000 })
      this.folderSync = result.code === 0 && result.stdout.trim() === marker
    } catch (error) {
      if (signal?.aborted === true) throw error
      this.folderSync = false
    }
  }

  async *list(prefix: string, signal?: AbortSignal): AsyncIterable<ObjectInfo> {
    assertValidPrefix(prefix)
    const start = prefix === '' ? this.root : this.remote(prefix.slice(0, -1))
    yield* this.walk(start, prefix, 0, signal)
  }

  private async *walk(dir: string, keyPrefix: string, depth: number, signal?: AbortSignal): AsyncIterable<ObjectInfo> {
    signal?.throwIfAborted()
    const s = await this.session()
    let handle: Buffer
    try {
      handle = await s.opendir(dir, signal)
    } catch (error) {
      if (isNoSuchFile(error)) return
      throw this.explain(error, 'list', keyPrefix || '/')
    }
    const subdirs: string[] = []
    try {
      let seen = 0
      for (let batch = await s.readdirBatch(handle, dir, signal); batch !== undefined; batch = await s.readdirBatch(handle, dir, signal)) {
        seen += batch.length
        if (seen > MAX_DIR_ENTRIES) throw new SftpRequestError(`${this.label}: ${keyPrefix || 'the repository folder'} has more than ${MAX_DIR_ENTRIES} entries`, undefined)
        for (const entry of batch) {
          const name = entry.filename
          // The server names the entries: anything that is not a valid key segment cannot be ours and is skipped.
          if (typeof name !== 'string' || !isKeySegment(name)) continue
          const attrs = entry.attrs as { isFile?: () => boolean; isDirectory?: () => boolean; size?: unknown; mtime?: unknown } | undefined
          if (attrs?.isDirectory?.() === true) {
            if (depth < MAX_DEPTH) subdirs.push(name)
          } else if (attrs?.isFile?.() === true) {
            const size = typeof attrs.size === 'number' && Number.isSafeInteger(attrs.size) && attrs.size >= 0 ? attrs.size : 0
            const mtime = typeof attrs.mtime === 'number' && Number.isFinite(attrs.mtime) ? attrs.mtime * 1000 : 0
            yield { key: `${keyPrefix}${name}`, size, mtimeMs: mtime }
          }
        }
      }
    } finally {
      await s.close(handle).catch(() => undefined)
    }
    for (const name of subdirs) yield* this.walk(`${dir}/${name}`, `${keyPrefix}${name}/`, depth + 1, signal)
  }

  async stat(key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined> {
    const file = this.remote(key)
    const s = await this.session()
    try {
      const st = await s.stat(file, signal)
      if (!st.isFile()) return undefined
      const size = Number.isSafeInteger(st.size) && st.size >= 0 ? st.size : 0
      return { key, size, mtimeMs: Number.isFinite(st.mtime) ? st.mtime * 1000 : 0 }
    } catch (error) {
      if (isNoSuchFile(error)) return undefined
      throw this.explain(error, 'read', key)
    }
  }

  async delete(key: string, signal?: AbortSignal): Promise<void> {
    const file = this.remote(key)
    const s = await this.session()
    try {
      await s.unlink(file, signal)
      this.dirty = true
    } catch (error) {
      if (!isNoSuchFile(error)) throw this.explain(error, 'remove', key)
    }
  }

  async close(): Promise<void> {
    try {
      if (this.conn.isOpen) await this.flush()
    } finally {
      if (this.options.ownsConnection === true) await this.conn.close()
    }
  }

  /** mkdir -p below the root, each folder once per backend; concurrent puts into a new folder share one attempt. */
  private async ensureDir(dir: string, signal?: AbortSignal): Promise<void> {
    if (this.knownDirs.has(dir)) return
    let making = this.makingDirs.get(dir)
    if (making === undefined) {
      making = this.makeDir(dir, signal).finally(() => this.makingDirs.delete(dir))
      this.makingDirs.set(dir, making)
    }
    await making
    this.knownDirs.add(dir)
  }

  private async makeDir(dir: string, signal?: AbortSignal): Promise<void> {
    const s = await this.session()
    try {
      await s.mkdir(dir, signal)
      this.dirty = true
      return
    } catch (error) {
      const status = sftpStatus(error)
      if (status === SFTP_FAILURE) {
        // SFTP v3 has no "already exists": FAILURE is what OpenSSH sends for EEXIST. Make sure it is a folder.
        const st = await s.stat(dir, signal).catch(() => undefined)
        if (st?.isDirectory() === true) return
        throw this.explain(error, 'write', dir)
      }
      if (!isNoSuchFile(error) || dir === '/' || path.dirname(dir) === dir) throw this.explain(error, 'write', dir)
    }
    await this.ensureDir(path.dirname(dir), signal)
    try {
      await s.mkdir(dir, signal)
      this.dirty = true
    } catch (error) {
      const st = await s.stat(dir, signal).catch(() => undefined)
      if (st?.isDirectory() !== true) throw this.explain(error, 'write', dir)
    }
  }

  private async withSlot<T>(run: () => Promise<T>): Promise<T> {
    while (this.slots === 0) await new Promise<void>((resolve) => this.slotWaiters.push(resolve))
    this.slots--
    try {
      return await run()
    } finally {
      this.slots++
      this.slotWaiters.shift()?.()
    }
  }

  /**
   * SFTP v3 has no "disk full": OpenSSH answers a write into a full filesystem with a bare SSH_FX_FAILURE, which
   * would reach the admin as a vague storage failure. After such a failure, ask the server how much room is left;
   * when less than `needed` is, say so (NO_SPACE) — the half-written temp file is still there, so the answer is near 0.
   */
  private async noSpace(s: SftpSession, error: unknown, folder: string, needed: number, signal?: AbortSignal): Promise<unknown> {
    if (sftpStatus(error) !== SFTP_FAILURE || !s.isOpen || !s.offers('statvfs@openssh.com')) return error
    const free = await s.freeBytes(folder, signal).catch(() => undefined)
    if (free === undefined || free >= needed) return error
    return new SftpNoSpaceError(`${this.label}: the filesystem holding ${folder} on ${this.conn.label} is full (${free} bytes left)`, SFTP_FAILURE, { cause: error })
  }

  /** Adds what the admin can act on to a permission error; other errors pass unchanged. */
  private explain(error: unknown, action: 'read' | 'write' | 'list' | 'remove', what: string): unknown {
    if (sftpStatus(error) !== SFTP_PERMISSION_DENIED) return error
    return new SftpRequestError(`${this.label}: the SSH user on ${this.conn.label} may not ${action} ${what} (permission denied). Give that user write access to the repository folder.`, SFTP_PERMISSION_DENIED, { cause: error })
  }
}

function isKeySegment(name: string): boolean {
  return name.length > 0 && name.length <= 255 && /^[0-9A-Za-z._-]+$/.test(name) && !name.startsWith('.')
}

/** Runs `run(0 … count-1)` with at most PIECES_IN_FLIGHT at once; a failure stops the rest (see runLanes). */
async function inWindows(count: number, run: (index: number) => Promise<void>): Promise<void> {
  await runLanes(count, PIECES_IN_FLIGHT, (i) => run(i))
}
