import { CHUNK_SIZE, CHUNKS_PREFIX, CONFIG_KEY, MAX_CHUNK_OBJECT_BYTES, MAX_CONFIG_BYTES, MAX_MANIFEST_BYTES, POINTS_PREFIX, chunkIdFromKey, pointIdFromKey } from './format.js'
import { ObjectLockedError, ObjectTooLargeError, type ObjectVersion, type ObjectVersions, type RepositoryBackend, type VersionRetention } from './backend.js'
import { RepositoryError, throwIfCancelled } from './errors.js'
import { parseConfig } from './config.js'
import { decodeManifest } from './manifest.js'
import { listPointIds, loadManifest } from './points.js'
import { lockRepository } from './repo-lock.js'
import { opensAs } from './copy/objects.js'
import type { RepoContext } from './context.js'
import type { PointManifest } from './types.js'

/** Versions listed per prefix at most (points/ or chunks/): a bucket flooded with versions is refused, not walked. */
export const MAX_LISTED_VERSIONS = 20_000_000
/** Versions of one key looked at at most: past that the key is reported, not searched. */
export const MAX_VERSIONS_PER_KEY = 1000
/** Hidden keys handled in one run at most (their versions are kept in memory meanwhile). */
export const MAX_HIDDEN_KEYS = 1_000_000

export interface UndeleteOptions {
  /** Find and prove what could be brought back, change nothing. */
  readonly dryRun?: boolean
  readonly signal?: AbortSignal
}

export interface UndeletedObject {
  readonly key: string
  /** What hid the locked version: a delete marker, or a newer version that is not the object Lifeboat wrote. */
  readonly hiddenBy: 'delete marker' | 'newer version'
  /** The version brought back (now the newest again). */
  readonly versionId: string
  /** removed: what hid it was deleted by version id; copied: it was locked too, so the good version was copied over it. dry run: nothing was changed. */
  readonly how: 'removed' | 'copied' | 'dry run'
  /** Until when the version brought back stays locked (ISO 8601). */
  readonly lockedUntil: string
}

export interface NotUndeleted {
  readonly key: string
  readonly reason: string
}

export interface UndeleteReport {
  readonly location: string
  readonly dryRun: boolean
  /** Keys whose versions were looked at (points, chunks and config.json). */
  readonly keysExamined: number
  /** Keys that something hid: a delete marker or a newer version that does not prove. */
  readonly keysHidden: number
  readonly restored: readonly UndeletedObject[]
  readonly failed: readonly NotUndeleted[]
  /** Restore points whose manifest was brought back (or would be, on a dry run). */
  readonly points: readonly string[]
}

/** Refuses storage that keeps no earlier versions, saying why, and returns what it keeps. */
export async function versionsOf(backend: RepositoryBackend, signal?: AbortSignal): Promise<ObjectVersions> {
  const versions = backend.versions
  if (versions === undefined) {
    throw new RepositoryError(
      'INVALID_ARGUMENT',
      `${backend.label}: folders and SFTP repositories keep no earlier versions of their files, so there is nothing to undelete from (a deleted file there is gone). Undelete works on an S3 repository whose bucket has Object Lock. Nothing was changed.`,
      { location: backend.label },
    )
  }
  const state = await versions.versioning(signal)
  if (state === undefined) {
    throw new RepositoryError(
      'INVALID_ARGUMENT',
      `The bucket of ${backend.label} does not keep versions of its objects (versioning is off), so a deleted or overwritten object is gone and cannot be brought back. A bucket created with Object Lock keeps them. Nothing was changed.`,
      { location: backend.label },
    )
  }
  return versions
}

/**
 * config.json first, before the repository can be opened: when its newest entry is a delete marker or does not read
 * as a configuration, the newest locked version that does is brought back. Returns the outcome for it, if it was
 * hidden. Opening the repository afterwards (the passphrase unwrapping its key) proves the rest.
 */
export async function undeleteConfig(backend: RepositoryBackend, options: UndeleteOptions = {}): Promise<{ restored?: UndeletedObject; failed?: NotUndeleted }> {
  const versions = await versionsOf(backend, options.signal)
  const entries: ObjectVersion[] = []
  let truncated = false
  for await (const v of versions.list(CONFIG_KEY, MAX_LISTED_VERSIONS, options.signal)) {
    if (v.key !== CONFIG_KEY) continue
    if (entries.length === MAX_VERSIONS_PER_KEY) {
      truncated = true
      break
    }
    entries.push(v)
  }
  const proves = (raw: Buffer) => {
    try {
      parseConfig(raw)
      return Promise.resolve(true)
    } catch {
      return Promise.resolve(false)
    }
  }
  const outcome = await restoreKey({ backend, versions, clock: Date.now, retentionFor: (held) => held }, CONFIG_KEY, entries, MAX_CONFIG_BYTES, proves, options, truncated)
  return outcome === 'whole' ? {} : outcome
}

/**
 * Brings back restore points and chunks that a delete marker or a newer version hides while the version Lifeboat
 * wrote is still there and locked: manifests first (each must decode with this repository's key), then the chunks
 * the points need (each must open and hash to its id). What hid a version is deleted by version id (a delete marker
 * carries no lock; a newer unlocked version neither); when that is refused, the good version is copied over as the
 * newest instead, locked as the repository's setting asks. Every object counts as restored only once the newest
 * version reads back and proves.
 */
export async function undelete(ctx: RepoContext, options: UndeleteOptions = {}): Promise<UndeleteReport> {
  const { signal } = options
  const dryRun = options.dryRun === true
  const versions = await versionsOf(ctx.backend, signal)
  await using _lock = dryRun
    ? undefined
    : await lockRepository(ctx, 'maintenance', 'undelete', signal)
  const setting = ctx.config.objectLock
  const retentionFor = (held: VersionRetention): VersionRetention => {
    if (setting === undefined) return held
    return { mode: setting.mode, untilMs: Math.max(held.untilMs, ctx.clock() + setting.days * 86_400_000) }
  }
  const env: KeyEnv = { backend: ctx.backend, versions, clock: ctx.clock, retentionFor }
  const restored: UndeletedObject[] = []
  const failed: NotUndeleted[] = []
  const points: string[] = []
  let keysExamined = 0
  let keysHidden = 0
  const record = (outcome: KeyOutcome) => {
    if (outcome === 'whole') return
    keysHidden++
    if (outcome.restored) restored.push(outcome.restored)
    if (outcome.failed) failed.push(outcome.failed)
  }

  // Manifests: a point brought back (or found whole) tells which chunks, of which lengths, matter.
  const manifests: PointManifest[] = []
  const hiddenPoints = await hiddenKeys(versions, POINTS_PREFIX, signal)
  keysExamined += hiddenPoints.examined
  for (const [key, entries] of hiddenPoints.keys) {
    throwIfCancelled(signal, 'Undelete stopped; what it brought back so far stays brought back. Run it again for the rest.')
    const pointId = pointIdFromKey(key, POINTS_PREFIX)
    if (pointId === undefined) continue
    const seen: { manifest?: PointManifest } = {}
    const proves = (raw: Buffer) => {
      try {
        seen.manifest = decodeManifest(raw, pointId, ctx.ops, ctx.encrypted)
        return Promise.resolve(true)
      } catch {
        return Promise.resolve(false)
      }
    }
    const outcome = await restoreKey(env, key, entries, MAX_MANIFEST_BYTES, proves, options, hiddenPoints.tooMany.has(key))
    record(outcome)
    if (outcome !== 'whole' && outcome.restored !== undefined) {
      points.push(pointId)
      if (seen.manifest !== undefined) manifests.push(seen.manifest)
    }
  }
  for (const id of await listPointIds(ctx, signal)) {
    if (points.includes(id)) continue
    try {
      manifests.push(await loadManifest(ctx, id, signal))
    } catch (error) {
      if (!(error instanceof RepositoryError) || (error.code !== 'CORRUPT_MANIFEST' && error.code !== 'POINT_NOT_FOUND')) throw error
    }
  }
  const lengths = new Map<string, number>()
  for (const m of manifests) {
    for (const d of m.disks) {
      d.chunks.forEach((id, index) => {
        if (id !== null) lengths.set(id, Math.min(CHUNK_SIZE, d.size - index * CHUNK_SIZE))
      })
    }
  }

  // Chunks no point needs are left as they are (GC's business), hidden or not.
  const hiddenChunks = await hiddenKeys(versions, CHUNKS_PREFIX, signal)
  keysExamined += hiddenChunks.examined
  for (const [key, entries] of hiddenChunks.keys) {
    throwIfCancelled(signal, 'Undelete stopped; what it brought back so far stays brought back. Run it again for the rest.')
    const id = chunkIdFromKey(key)
    const length = id === undefined ? undefined : lengths.get(id)
    if (id === undefined || length === undefined) continue
    const proves = (raw: Buffer) => opensAs(ctx, raw, id, length)
    record(await restoreKey(env, key, entries, MAX_CHUNK_OBJECT_BYTES, proves, options, hiddenChunks.tooMany.has(key)))
  }
  return { location: ctx.backend.label, dryRun, keysExamined, keysHidden, restored, failed, points }
}

interface KeyEnv {
  readonly backend: RepositoryBackend
  readonly versions: ObjectVersions
  readonly clock: () => number
  /** The retention a version copied over gets, from the one it had. */
  readonly retentionFor: (held: VersionRetention) => VersionRetention
}

type KeyOutcome = 'whole' | { restored?: UndeletedObject; failed?: NotUndeleted }

/**
 * Keys under a prefix whose newest entry is a delete marker, or which have more than one version (the newest may
 * then be a stranger's): only those can need bringing back, so only their entries are kept.
 */
async function hiddenKeys(versions: ObjectVersions, prefix: string, signal?: AbortSignal): Promise<{ keys: Map<string, ObjectVersion[]>; tooMany: Set<string>; examined: number }> {
  const keys = new Map<string, ObjectVersion[]>()
  const tooMany = new Set<string>()
  let examined = 0
  let current: ObjectVersion[] = []
  const close = () => {
    const first = current[0]
    if (first !== undefined && (first.deleteMarker || current.length > 1)) {
      if (keys.size >= MAX_HIDDEN_KEYS) {
        throw new RepositoryError('INVALID_ARGUMENT', `More than ${MAX_HIDDEN_KEYS} objects under ${prefix} are hidden or have several versions; that is more than one undelete handles. Nothing more was changed.`)
      }
      keys.set(first.key, current)
    }
    current = []
  }
  for await (const v of versions.list(prefix, MAX_LISTED_VERSIONS, signal)) {
    if (current[0] !== undefined && current[0].key !== v.key) close()
    if (current.length === 0) examined++
    if (current.length < MAX_VERSIONS_PER_KEY) current.push(v)
    else tooMany.add(v.key)
  }
  close()
  return { keys, tooMany, examined }
}

/**
 * One key: whole when its newest version proves. Otherwise the newest earlier version that is locked (its lock not
 * yet run out) and proves is brought back, and proven again as the newest.
 */
async function restoreKey(
  env: KeyEnv,
  key: string,
  entries: readonly ObjectVersion[],
  maxBytes: number,
  proves: (raw: Buffer) => Promise<boolean>,
  options: UndeleteOptions,
  truncated = false,
): Promise<KeyOutcome> {
  const { versions, backend } = env
  const { signal } = options
  const newest = entries[0]
  if (newest === undefined) return 'whole'
  const read = async (versionId: string): Promise<Buffer | undefined> => {
    try {
      return await versions.get(key, versionId, { maxBytes, signal })
    } catch (error) {
      if (error instanceof ObjectTooLargeError) return undefined
      throw error
    }
  }
  if (!newest.deleteMarker) {
    const raw = await read(newest.versionId)
    if (raw !== undefined && (await proves(raw))) return 'whole'
  }
  const hiddenBy = newest.deleteMarker ? ('delete marker' as const) : ('newer version' as const)
  let good: { index: number; versionId: string; held: VersionRetention } | undefined
  let unlocked = 0
  let damaged = 0
  for (let index = 1; index < entries.length && good === undefined; index++) {
    const v = entries[index]
    if (v === undefined || v.deleteMarker) continue
    const held = await versions.retention(key, v.versionId, signal)
    if (held === undefined || held.untilMs <= env.clock()) {
      unlocked++
      continue
    }
    const raw = await read(v.versionId)
    if (raw !== undefined && (await proves(raw))) good = { index, versionId: v.versionId, held }
    else damaged++
  }
  if (good === undefined) {
    const why =
      damaged > 0
        ? `hidden by a ${hiddenBy}; ${damaged === 1 ? 'its locked earlier version does' : `none of its ${damaged} locked earlier versions`} not prove whole`
        : unlocked > 0
          ? `hidden by a ${hiddenBy}; its earlier ${unlocked === 1 ? 'version is' : 'versions are'} not locked (written before Object Lock was on, or the lock has run out), and only locked versions are brought back — nobody can have replaced those`
          : `hidden by a ${hiddenBy}; no earlier version is left`
    return { failed: { key, reason: truncated ? `${why} (only its newest ${MAX_VERSIONS_PER_KEY} versions were looked at)` : why } }
  }
  const lockedUntil = new Date(good.held.untilMs).toISOString()
  if (options.dryRun === true) return { restored: { key, hiddenBy, versionId: good.versionId, how: 'dry run', lockedUntil } }

  let how: 'removed' | 'copied' = 'removed'
  let until = good.held.untilMs
  try {
    for (const v of entries.slice(0, good.index)) {
      throwIfCancelled(signal, `Undelete stopped while bringing back ${key}; run it again.`)
      await versions.remove(key, v.versionId, signal)
    }
  } catch (error) {
    if (!(error instanceof ObjectLockedError)) throw error
    // A newer version the storage keeps locked (its writer set a lock of its own): the good one goes over it.
    const retention = env.retentionFor(good.held)
    await versions.promote(key, good.versionId, retention, signal)
    how = 'copied'
    until = retention.untilMs
  }
  const now = await backend.get(key, { maxBytes, signal }).catch((error: unknown) => {
    if (error instanceof ObjectTooLargeError) return undefined
    throw error
  })
  if (now === undefined || !(await proves(now))) {
    return { failed: { key, reason: `hidden by a ${hiddenBy}; the locked version ${good.versionId} was brought back but the newest version still does not read back whole (was it written again meanwhile?)` } }
  }
  return { restored: { key, hiddenBy, versionId: good.versionId, how, lockedUntil: new Date(until).toISOString() } }
}
