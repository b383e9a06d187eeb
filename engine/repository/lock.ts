import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { LOCKS_PREFIX, MAX_LOCK_BYTES } from './format.js'
import { RepositoryError, cancelledError } from './errors.js'
import { isAbortError } from '../../adapters/abort.js'
import type { RepositoryBackend } from './backend.js'
import { pidAlive } from '../../adapters/pid-alive.js'

/**
 * Repository locks, one small object per holder under locks/. Kinds and what they exclude:
 *  - ingest: a backup adding chunks and, at the end, a manifest. Any number run together (they only add).
 *  - maintenance: prune or GC. One at a time; it tolerates backups already running (GC protects what they
 *    write, see gc.ts) but new backups wait until it is done.
 *  - exclusive: excludes everything (reserved for repairs and key changes).
 * A holder refreshes its lock (heartbeat); a lock whose holder is a dead process on this host, or whose heartbeat
 * is older than staleAfterMs, is stale and is removed by whoever finds it.
 */
export type LockKind = 'ingest' | 'maintenance' | 'exclusive'

export interface LockRecord {
  readonly id: string
  readonly kind: LockKind
  readonly host: string
  readonly pid: number
  readonly operation: string
  readonly startedAt: number
  readonly heartbeatAt: number
}

export interface LockOptions {
  readonly backend: RepositoryBackend
  readonly kind: LockKind
  /** Shown to whoever finds the repository locked ("backup of web01"). */
  readonly operation: string
  /** How long to wait for conflicting holders before REPO_LOCKED; 0 refuses at once. */
  readonly timeoutMs?: number
  readonly heartbeatMs?: number
  readonly staleAfterMs?: number
  readonly signal?: AbortSignal | undefined
  readonly clock?: () => number
  /** This machine's name as written in locks (tests pretend to be another host). */
  readonly host?: string
  readonly pid?: number
}

export const DEFAULT_HEARTBEAT_MS = 10_000
export const DEFAULT_STALE_AFTER_MS = 120_000

export interface HeldLock extends AsyncDisposable {
  readonly record: LockRecord
  /** Throws LOCK_LOST when the heartbeat failed or someone removed the lock (e.g. believing it stale). */
  assertHeld(signal?: AbortSignal): Promise<void>
  release(): Promise<void>
}

function conflicts(mine: LockKind, other: LockKind): boolean {
  if (mine === 'exclusive' || other === 'exclusive') return true
  if (mine === 'maintenance' && other === 'maintenance') return true
  // A new backup waits for a running prune/GC; a starting prune/GC tolerates running backups.
  return mine === 'ingest' && other === 'maintenance'
}

export async function acquireLock(options: LockOptions): Promise<HeldLock> {
  const { backend, kind, signal } = options
  const clock = options.clock ?? Date.now
  const timeoutMs = options.timeoutMs ?? 0
  const staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS
  const host = options.host ?? hostname()
  const pid = options.pid ?? process.pid
  const deadline = clock() + timeoutMs
  const id = `${kind}-${randomBytes(8).toString('hex')}`
  const key = `${LOCKS_PREFIX}${id}.json`
  const started = clock()
  const make = (): LockRecord => ({ id, kind, host, pid, operation: options.operation.slice(0, 200), startedAt: started, heartbeatAt: clock() })

  for (;;) {
    if (signal?.aborted === true) throw cancelledError('The repository was not locked.')
    const before = await liveLocks(backend, { staleAfterMs, clock, host, signal })
    let blocker = before.find((l) => conflicts(kind, l.kind))
    if (blocker === undefined) {
      await backend.put(key, encode(make()), signal)
      await backend.flush(signal)
      // Someone may have written a lock between our look and our write; look again and let exactly one yield.
      const after = await liveLocks(backend, { staleAfterMs, clock, host, signal })
      blocker = after.find((l) => l.id !== id && conflicts(kind, l.kind) && !winsOver(kind, id, started, l))
      if (blocker === undefined) return startHeartbeat(backend, key, make, options, clock)
      await backend.delete(key)
    }
    if (clock() >= deadline) throw lockedError(backend, blocker, clock)
    try {
      await sleep(Math.min(250 + Math.random() * 250, Math.max(0, deadline - clock())), undefined, { signal })
    } catch (error) {
      if (isAbortError(error)) throw cancelledError('The repository was not locked.')
      throw error
    }
  }
}

/** Tie-break when two holders of the same kind both wrote: the earlier one keeps it. Backups always yield. */
function winsOver(kind: LockKind, id: string, started: number, other: LockRecord): boolean {
  if (kind === 'ingest' || other.kind !== kind) return false
  return started < other.startedAt || (started === other.startedAt && id < other.id)
}

function lockedError(backend: RepositoryBackend, holder: LockRecord, clock: () => number): RepositoryError {
  const since = new Date(holder.startedAt).toISOString()
  return new RepositoryError(
    'REPO_LOCKED',
    `The repository at ${backend.label} is busy: ${holder.operation} (${holder.kind}) has held it since ${since}, from ${holder.host} (process ${holder.pid}). Nothing was changed; try again when it has finished.`,
    { holderKind: holder.kind, holderHost: holder.host, holderPid: holder.pid, operation: holder.operation, since, heldForMs: clock() - holder.startedAt },
  )
}

interface LivenessOptions {
  readonly staleAfterMs: number
  readonly clock: () => number
  readonly host?: string | undefined
  readonly signal?: AbortSignal | undefined
}

/** Every lock whose holder still looks alive. Stale ones are removed on the way (that is what makes them stale). */
export async function liveLocks(backend: RepositoryBackend, options: LivenessOptions): Promise<LockRecord[]> {
  const live: LockRecord[] = []
  for await (const info of backend.list(LOCKS_PREFIX, options.signal)) {
    const record = await readLock(backend, info.key, options.signal)
    // Released between the listing and the read: its holder is done, so it blocks nobody.
    if (record === 'gone') continue
    const now = options.clock()
    const heartbeat = record?.heartbeatAt ?? info.mtimeMs
    const deadHere = record !== undefined && record.host === (options.host ?? hostname()) && !pidAlive(record.pid)
    if (deadHere || now - heartbeat > options.staleAfterMs) {
      await backend.delete(info.key, options.signal)
      continue
    }
    // An unreadable lock that is still fresh counts as an exclusive holder we know nothing about.
    live.push(record ?? { id: info.key, kind: 'exclusive', host: 'unknown', pid: 0, operation: 'an unknown operation', startedAt: info.mtimeMs, heartbeatAt: info.mtimeMs })
  }
  return live
}

/** The lock record; undefined when it cannot be read or understood; 'gone' when it no longer exists. */
async function readLock(backend: RepositoryBackend, key: string, signal?: AbortSignal): Promise<LockRecord | 'gone' | undefined> {
  try {
    const raw = await backend.get(key, { maxBytes: MAX_LOCK_BYTES, signal })
    if (raw === undefined) return 'gone'
    const r = JSON.parse(raw.toString('utf8')) as Partial<LockRecord>
    const kindOk = r.kind === 'ingest' || r.kind === 'maintenance' || r.kind === 'exclusive'
    if (!kindOk || typeof r.id !== 'string' || typeof r.host !== 'string' || typeof r.operation !== 'string') return undefined
    if (!Number.isSafeInteger(r.pid) || !Number.isFinite(r.startedAt) || !Number.isFinite(r.heartbeatAt)) return undefined
    return r as LockRecord
  } catch (error) {
    if (isAbortError(error)) throw error
    return undefined
  }
}

function encode(record: LockRecord): Buffer {
  return Buffer.from(JSON.stringify(record))
}

function startHeartbeat(backend: RepositoryBackend, key: string, make: () => LockRecord, options: LockOptions, clock: () => number): HeldLock {
  let lost: string | undefined
  let released = false
  let beating: Promise<void> = Promise.resolve()
  const record = make()
  const beat = async (): Promise<void> => {
    if (released || lost !== undefined) return
    try {
      if ((await backend.stat(key)) === undefined) {
        lost = 'its lock was removed by another process'
        return
      }
      await backend.put(key, encode(make()))
    } catch (error) {
      lost = `its lock could not be refreshed (${error instanceof Error ? error.message : String(error)})`
    }
  }
  const timer = setInterval(() => {
    beating = beating.then(beat)
  }, options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS)
  timer.unref()
  // Never throws: it runs on every way out, often while another error is on its way up (a full disk, say),
  // and a lock that could not be removed goes stale by itself (dead process, no heartbeat).
  const release = async (): Promise<void> => {
    if (released) return
    released = true
    clearInterval(timer)
    await beating
    try {
      await backend.delete(key)
      await backend.flush()
    } catch {
      // See above.
    }
  }
  return {
    record,
    async assertHeld(signal?: AbortSignal): Promise<void> {
      await beating
      if (lost === undefined && (await backend.stat(key, signal)) === undefined) lost = 'its lock was removed by another process'
      if (lost !== undefined) {
        throw new RepositoryError('LOCK_LOST', `The operation lost its hold on the repository: ${lost}. It stopped without finishing; chunks it wrote are reclaimed by the next garbage collection.`, {
          reason: lost,
          heldForMs: clock() - record.startedAt,
        })
      }
    },
    release,
    [Symbol.asyncDispose]: release,
  }
}
