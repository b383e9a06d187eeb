import { randomUUID } from 'node:crypto'
import { CHUNK_SIZE, CONFIG_KEY, FORMAT_NAME, FORMAT_VERSION } from './format.js'
import { RepositoryError, toRepositoryError } from './errors.js'
import { readConfig, type RepositoryConfig } from './config.js'
import { createKeys, unlockKeys, DEFAULT_SCRYPT, type RepositoryKeys, type ScryptParams } from './codec/keys.js'
import { ChunkOps } from './codec/chunk-ops.js'
import { createChunkCodec } from './workers/codec-pool.js'
import { DEFAULT_HEARTBEAT_MS, DEFAULT_STALE_AFTER_MS } from './lock.js'
import { listPointIds, loadManifest, loadSummaries } from './points.js'
import { ingest, type IngestOptions } from './ingest/ingest.js'
import { PointDiskSource, type PointDiskOptions } from './read/point-disk.js'
import { exportDisk, type ExportOptions, type ExportResult } from './export/export.js'
import { verify, type VerifyOptions, type VerifyReport } from './maintenance/verify.js'
import { prune, type PruneOptions, type PruneReport } from './maintenance/prune.js'
import { gc, type GcOptions, type GcReport } from './maintenance/gc.js'
import { check, type CheckReport } from './maintenance/check.js'
import { copyPoint, type CopyPointOptions, type CopyReport } from './copy/copy-point.js'
import { repairFrom, type RepairOptions, type RepairReport } from './copy/repair-from.js'
import type { PointManifest, PointSummary } from './types.js'
import type { SummaryCache } from './summary-cache.js'
import type { ObjectLockSetting, RepositoryBackend } from './backend.js'
import { configureObjectLock, lockPoint } from './object-lock.js'
import { undelete, type UndeleteOptions, type UndeleteReport } from './undelete.js'
import type { LockingSettings, RepoContext } from './context.js'

export interface OpenOptions {
  readonly backend: RepositoryBackend
  /** Required for encrypted repositories; ignored by plain ones. */
  readonly passphrase?: string
  /** Worker threads for hashing/compression/encryption; default: one per core. 0 = inline. */
  readonly workers?: number
  readonly locking?: Partial<LockingSettings>
  readonly clock?: () => number
  readonly signal?: AbortSignal
  /** Remembers listed points' summaries across opens (see summary-cache.ts); without it every listing decodes every manifest. */
  readonly summaryCache?: SummaryCache
}

export interface InitOptions extends OpenOptions {
  /** Encrypt the repository with this passphrase (AES-256-GCM, key via scrypt). Omit for a plain repository. */
  readonly passphrase?: string
  readonly compressionLevel?: number
  readonly scrypt?: ScryptParams
}

export interface RepositoryInfo {
  readonly location: string
  readonly id: string
  readonly formatVersion: number
  readonly createdAt: string
  readonly chunkSize: number
  readonly compression: string
  readonly encrypted: boolean
  /** Set when each point's objects are kept immutable (S3 Object Lock). */
  readonly objectLock?: ObjectLockSetting
}

/** The repository as the rest of Lifeboat sees it. Every result is plain data. */
export interface Repository extends AsyncDisposable {
  info(): RepositoryInfo
  listPoints(signal?: AbortSignal): Promise<PointSummary[]>
  getPoint(pointId: string, signal?: AbortSignal): Promise<PointManifest>
  ingest(options: IngestOptions): Promise<PointSummary>
  /** A disk of a restore point as a random-access BlockSource (close it when done). */
  openDisk(pointId: string, disk: string, options?: PointDiskOptions & { signal?: AbortSignal }): Promise<PointDiskSource>
  export(options: ExportOptions): Promise<ExportResult>
  verify(options?: VerifyOptions): Promise<VerifyReport>
  prune(options: PruneOptions): Promise<PruneReport>
  gc(options?: GcOptions): Promise<GcReport>
  check(signal?: AbortSignal): Promise<CheckReport>
  /** Copies a restore point to a copy of this repository (an empty place becomes one); see copy/copy-point.ts. */
  copyPoint(options: CopyPointOptions): Promise<CopyReport>
  /** S3 Object Lock for the points written from now on (null: none); refused where storage cannot lock. */
  setObjectLock(setting: ObjectLockSetting | null, signal?: AbortSignal): Promise<void>
  /** verify, then mend damaged chunks and manifests from a copy; names the points it could not mend. */
  repairFrom(options: RepairOptions): Promise<RepairReport>
  /** S3 with versions only: brings back locked points and chunks that a delete marker or a newer version hides (undelete.ts). */
  undelete(options?: UndeleteOptions): Promise<UndeleteReport>
  close(): Promise<void>
}

/**
 * zstd level 1: on disk images it compresses within a few percent of level 3 (identically on the benchmark's
 * text) at ~1.4× the speed, and backup windows matter more than the last percent (Proxmox Backup Server makes the
 * same choice). initRepository({ compressionLevel }) picks another.
 */
const DEFAULT_LEVEL = 1

/** Creates a new, empty repository (REPO_EXISTS if one is already there) and opens it. */
export async function initRepository(options: InitOptions): Promise<Repository> {
  const { backend, signal } = options
  if ((await backend.stat(CONFIG_KEY, signal)) !== undefined) {
    throw new RepositoryError('REPO_EXISTS', `There already is a Lifeboat repository at ${backend.label}. Nothing was changed.`, { location: backend.label })
  }
  const id = randomUUID()
  const level = options.compressionLevel ?? DEFAULT_LEVEL
  if (!Number.isInteger(level) || level < 1 || level > 19) throw new RepositoryError('INVALID_ARGUMENT', 'The compression level must be between 1 and 19.')
  const encryption = options.passphrase === undefined ? null : (await createKeys(options.passphrase, id, options.scrypt ?? DEFAULT_SCRYPT)).wrapped
  const config: RepositoryConfig = {
    format: FORMAT_NAME,
    version: FORMAT_VERSION,
    id,
    createdAt: new Date((options.clock ?? Date.now)()).toISOString(),
    chunkSize: CHUNK_SIZE,
    compression: { algorithm: 'zstd', level },
    encryption,
  }
  try {
    await backend.put(CONFIG_KEY, Buffer.from(JSON.stringify(config, null, 2) + '\n'), signal)
    await backend.flush(signal)
  } catch (error) {
    throw toRepositoryError(error, 'creating the repository')
  }
  return openRepository(options)
}

export async function openRepository(options: OpenOptions): Promise<Repository> {
  const { backend, signal } = options
  const config = await readConfig(backend, signal)
  let keys: RepositoryKeys | undefined
  if (config.encryption !== null) {
    if (options.passphrase === undefined) {
      throw new RepositoryError('PASSPHRASE_REQUIRED', `The repository at ${backend.label} is encrypted; its passphrase is needed to open it.`, { location: backend.label })
    }
    keys = await unlockKeys(options.passphrase, config.id, config.encryption)
  }
  const settings = { dataKey: keys?.dataKey, idKey: keys?.idKey, compressionLevel: config.compression.level }
  // Storage that cannot lock (a copy in a folder of a locked repository) simply writes unlocked objects.
  if (config.objectLock !== undefined) backend.objectLock?.use(config.objectLock)
  const ctx: RepoContext = {
    backend,
    config,
    encrypted: keys !== undefined,
    codec: createChunkCodec({ ...settings, ...(options.workers === undefined ? {} : { workers: options.workers }) }),
    ops: new ChunkOps(settings),
    clock: options.clock ?? Date.now,
    locking: {
      timeoutMs: options.locking?.timeoutMs ?? 0,
      heartbeatMs: options.locking?.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
      staleAfterMs: options.locking?.staleAfterMs ?? DEFAULT_STALE_AFTER_MS,
      clockSkewMs: options.locking?.clockSkewMs ?? 5 * 60_000,
      host: options.locking?.host,
    },
    summaryCache: options.summaryCache,
  }
  return new RepositoryHandle(ctx)
}

class RepositoryHandle implements Repository {
  private closed = false
  constructor(private readonly ctx: RepoContext) {}

  info(): RepositoryInfo {
    const c = this.ctx.config
    return {
      location: this.ctx.backend.label,
      id: c.id,
      formatVersion: c.version,
      createdAt: c.createdAt,
      chunkSize: c.chunkSize,
      compression: `${c.compression.algorithm} level ${c.compression.level}`,
      encrypted: this.ctx.encrypted,
      ...(c.objectLock !== undefined ? { objectLock: c.objectLock } : {}),
    }
  }

  async listPoints(signal?: AbortSignal): Promise<PointSummary[]> {
    return await loadSummaries(this.ctx, await listPointIds(this.ctx, signal), signal)
  }

  getPoint(pointId: string, signal?: AbortSignal): Promise<PointManifest> {
    return this.guard(() => loadManifest(this.ctx, pointId, signal), 'reading a restore point')
  }

  ingest(options: IngestOptions): Promise<PointSummary> {
    return this.guard(async () => {
      const point = await ingest(this.ctx, options)
      await lockPoint(this.ctx, point.id, options.signal)
      return point
    }, 'writing a backup')
  }

  async openDisk(pointId: string, disk: string, options: PointDiskOptions & { signal?: AbortSignal } = {}): Promise<PointDiskSource> {
    const manifest = await this.getPoint(pointId, options.signal)
    const record = manifest.disks.find((d) => d.name === disk)
    if (record === undefined) throw new RepositoryError('DISK_NOT_FOUND', `Restore point ${pointId} has no disk "${disk}".`, { pointId, disk })
    return new PointDiskSource(this.ctx, manifest, record, options)
  }

  export(options: ExportOptions): Promise<ExportResult> {
    return this.guard(() => exportDisk(this.ctx, options), 'exporting a disk')
  }

  verify(options?: VerifyOptions): Promise<VerifyReport> {
    return this.guard(() => verify(this.ctx, options), 'verifying the repository')
  }

  prune(options: PruneOptions): Promise<PruneReport> {
    return this.guard(() => prune(this.ctx, options), 'pruning restore points')
  }

  gc(options?: GcOptions): Promise<GcReport> {
    return this.guard(() => gc(this.ctx, options), 'collecting unused data')
  }

  check(signal?: AbortSignal): Promise<CheckReport> {
    return this.guard(() => check(this.ctx, signal), 'checking the repository')
  }

  copyPoint(options: CopyPointOptions): Promise<CopyReport> {
    return this.guard(() => copyPoint(this.ctx, options), 'copying a restore point')
  }

  setObjectLock(setting: ObjectLockSetting | null, signal?: AbortSignal): Promise<void> {
    return this.guard(() => configureObjectLock(this.ctx, setting, signal), 'changing the object lock setting')
  }

  repairFrom(options: RepairOptions): Promise<RepairReport> {
    return this.guard(() => repairFrom(this.ctx, options), 'repairing the repository from a copy')
  }

  undelete(options?: UndeleteOptions): Promise<UndeleteReport> {
    return this.guard(() => undelete(this.ctx, options), 'bringing back hidden restore points')
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.ctx.codec.close()
    await this.ctx.backend.close()
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  private async guard<T>(run: () => Promise<T>, what: string): Promise<T> {
    if (this.closed) throw new RepositoryError('INVALID_ARGUMENT', 'The repository has been closed.')
    try {
      return await run()
    } catch (error) {
      throw toRepositoryError(error, what)
    }
  }
}
