/**
 * Where a repository's objects live. Deliberately small so that it can be implemented over a local folder,
 * S3-compatible object storage and SFTP alike: whole-object get/put, listing by prefix, stat, delete.
 *
 * Keys are '/'-separated relative paths made only of [0-9A-Za-z._-] segments (see format.ts); backends may
 * rely on that and must refuse anything else.
 */
export interface RepositoryBackend {
  /** Human-readable location for messages ("/srv/backups/repo", "s3://bucket/prefix"). Never contains secrets. */
  readonly label: string
  /**
   * How many objects a reader streaming a disk out should ask for at once. Absent: as many as the codec workers can
   * decode (a local disk answers at once). Storage across a network (SFTP, S3) answers each object after a round trip
   * or several, so a reader keeps more in flight there, or the workers wait for the network.
   */
  readonly readsInFlight?: number
  /**
   * Reads a whole object, or resolves to undefined when it does not exist. An object larger than
   * `maxBytes` throws ObjectTooLargeError before anything is allocated for it (stored bytes are hostile).
   */
  get(key: string, options: GetOptions): Promise<Buffer | undefined>
  /**
   * Writes a whole object atomically: readers see the old object, the new one, or none — never a part.
   * Overwrites. Durable once a later flush() has resolved. `data` may come in parts (written back to back), so
   * callers need not join a header, a body and a tag into one more buffer.
   */
  put(key: string, data: Uint8Array | readonly Uint8Array[], signal?: AbortSignal): Promise<void>
  /** Makes every put() that has resolved so far durable (a local backend fsyncs the directories it touched). */
  flush(signal?: AbortSignal): Promise<void>
  /** Every object whose key starts with `prefix`, in no particular order. */
  list(prefix: string, signal?: AbortSignal): AsyncIterable<ObjectInfo>
  /** Size and modification time, or undefined when the object does not exist. */
  stat(key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined>
  /** Removes an object; removing a missing object is not an error. A locked one throws ObjectLockedError. */
  delete(key: string, signal?: AbortSignal): Promise<void>
  close(): Promise<void>
  /** Present only where objects can be made immutable (S3 with Object Lock); see object-lock.ts. */
  readonly objectLock?: ObjectLockSupport
  /** Present only where storage keeps earlier versions of an object (S3); see undelete.ts. */
  readonly versions?: ObjectVersions
}

/** One stored version of an object, or a delete marker (a plain DELETE in a versioned bucket). */
export interface ObjectVersion {
  readonly key: string
  readonly versionId: string
  readonly deleteMarker: boolean
  readonly size: number
  readonly mtimeMs: number
}

/** The retention one version carries (S3 Object Lock). */
export interface VersionRetention {
  readonly mode: 'GOVERNANCE' | 'COMPLIANCE'
  readonly untilMs: number
}

/**
 * Earlier versions of objects, where storage keeps them (an S3 bucket with versioning, which Object Lock turns on).
 * What undelete needs to bring back a version that a delete marker or a newer version hides.
 */
export interface ObjectVersions {
  /** Whether the bucket keeps versions now ('Enabled'), did once ('Suspended') or never did (undefined). */
  versioning(signal?: AbortSignal): Promise<'Enabled' | 'Suspended' | undefined>
  /**
   * Every version and delete marker of the keys under `prefix`, grouped by key, each key's newest first. Throws
   * (saying so) past `maxEntries` entries, so a bucket flooded with versions cannot exhaust memory or time.
   */
  list(prefix: string, maxEntries: number, signal?: AbortSignal): AsyncIterable<ObjectVersion>
  /** One version's bytes (undefined when it is gone); larger than maxBytes throws ObjectTooLargeError. */
  get(key: string, versionId: string, options: GetOptions): Promise<Buffer | undefined>
  /** The retention one version carries, if any (expired or not). */
  retention(key: string, versionId: string, signal?: AbortSignal): Promise<VersionRetention | undefined>
  /** Removes one version or delete marker for good; a locked version throws ObjectLockedError (storage refused). */
  remove(key: string, versionId: string, signal?: AbortSignal): Promise<void>
  /** Copies an earlier version over the key, so that it is the newest again, with this retention (if any). */
  promote(key: string, versionId: string, retention: VersionRetention | undefined, signal?: AbortSignal): Promise<void>
}

/**
 * How long each restore point's objects stay immutable. GOVERNANCE: nobody can delete or overwrite them before the
 * date, except an account explicitly granted the right to bypass governance (an administrator, on purpose).
 * COMPLIANCE: nobody at all, not even the bucket's owner, until the date has passed.
 */
export interface ObjectLockSetting {
  readonly mode: 'GOVERNANCE' | 'COMPLIANCE'
  readonly days: number
}

export interface ObjectLockSupport {
  /** Refuses, saying why, when the bucket was not created with Object Lock enabled. */
  assertAvailable(signal?: AbortSignal): Promise<void>
  /** The retention that chunks and manifests written from now on get (undefined: none). */
  use(setting: ObjectLockSetting | undefined): void
  /** Until when (ms since the epoch) the object's current version is locked; undefined when it is not. */
  lockedUntil(key: string, signal?: AbortSignal): Promise<number | undefined>
  /** Keeps the object's current version locked until at least `untilMs` (a longer lock already there stays). */
  extend(key: string, untilMs: number, signal?: AbortSignal): Promise<void>
}

/** Thrown by delete() for an object whose lock has not expired: nothing was sent that the storage would refuse. */
export class ObjectLockedError extends Error {
  override readonly name = 'ObjectLockedError'
  constructor(
    readonly key: string,
    readonly untilMs: number,
  ) {
    super(`${key} is locked until ${new Date(untilMs).toISOString()}`)
  }
}

export interface GetOptions {
  /** Refuse objects larger than this, without reading them. */
  readonly maxBytes: number
  readonly signal?: AbortSignal | undefined
  /**
   * Memory to read the object into when it fits (the result is then a view of its start); a backend that cannot,
   * or an object that does not fit, returns a buffer of its own. The caller owns `into` either way.
   */
  readonly into?: Buffer | undefined
}

/** Where a backend reads an object of `size` bytes: the start of the caller's `into` when it fits, else new memory. */
export function getTarget(options: GetOptions, size: number): Buffer {
  return options.into !== undefined && options.into.length >= size ? options.into.subarray(0, size) : Buffer.allocUnsafe(size)
}

export interface ObjectInfo {
  readonly key: string
  readonly size: number
  /** Last modification, milliseconds since the epoch, by the storage's clock. */
  readonly mtimeMs: number
}

const SEGMENT = /^[0-9A-Za-z._-]+$/

/** Backends call this on every key: a key can never leave the repository root or name a hidden temp file. */
export function assertValidKey(key: string): void {
  const parts = key.split('/')
  const ok = key.length > 0 && key.length <= 512 && parts.every((p) => SEGMENT.test(p) && p !== '.' && p !== '..' && !p.startsWith('.'))
  if (!ok) throw new RangeError(`Invalid repository object key: ${JSON.stringify(key.slice(0, 120))}`)
}

export function assertValidPrefix(prefix: string): void {
  if (prefix === '') return
  if (!prefix.endsWith('/')) throw new RangeError(`Invalid repository prefix: ${JSON.stringify(prefix.slice(0, 120))}`)
  assertValidKey(prefix.slice(0, -1))
}

/** Thrown by get() for an object over its caller's size limit; callers turn it into CORRUPT_CHUNK and the like. */
export class ObjectTooLargeError extends Error {
  override readonly name = 'ObjectTooLargeError'
  constructor(
    readonly key: string,
    readonly size: number,
    readonly maxBytes: number,
  ) {
    super(`Object ${key} is ${size} bytes, more than the ${maxBytes} allowed`)
  }
}

/** Temporary names used while an object is written; listed like any object so GC can reclaim leftovers. */
export const TEMP_MARKER = '.tmp-'
