import { z } from 'zod'
import { PointCheckDtoSchema } from './contract-checks'
import { defineChannel } from './contract-core'

/**
 * Which repository, as a location string (default: the data folder's `repository`, created on first use; any other
 * location must be created with repo.init first):
 * - `/absolute/folder` or `file:///absolute/folder`: a local folder;
 * - `sftp://HOST/absolute/folder`: a folder on a host saved in Lifeboat, HOST being its name; the host's pinned SSH
 *   key and saved credentials are used (no user or port in the location);
 * - `s3://BUCKET/PREFIX?endpoint=URL&region=R`: S3-compatible storage (endpoint and region optional; without an
 *   endpoint, AWS). Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or what repo.init saved,
 *   never from the location.
 * A location that does not parse fails with INVALID_INPUT (field `repo`); a sftp:// host that is not saved with
 * HOST_NOT_FOUND.
 */
export const RepoLocationSchema = z.string().min(1).max(4096)
export const RepoRefSchema = z.object({ repo: RepoLocationSchema.optional() })

/** Credentials for an s3:// repository, saved with the other credentials; never returned by any channel. */
export const S3CredentialsInputSchema = z.object({
  accessKeyId: z.string().min(1).max(256),
  secretAccessKey: z.string().min(1).max(1024),
  sessionToken: z.string().min(1).max(8192).optional(),
})

export const RepositoryInfoDtoSchema = z.object({
  /** The normalised location (no secrets in it). */
  location: z.string(),
  id: z.string(),
  formatVersion: z.number(),
  createdAt: z.string(),
  chunkSize: z.number(),
  compression: z.string(),
  encrypted: z.boolean(),
  /** S3 Object Lock: each point's objects stay immutable this long (absent: they can be deleted by whoever may write). */
  objectLock: z.object({ mode: z.enum(['GOVERNANCE', 'COMPLIANCE']), days: z.number() }).optional(),
  points: z.number(),
  /** Bytes of restore point data as the hosts' disks had them, and as stored (deduplicated, compressed). */
  logicalBytes: z.number(),
  /** About what the restore points take up (the new data each one stored). */
  storedBytes: z.number(),
  /** Free space where the repository lives, when that can be known (local folders). */
  freeBytes: z.number().optional(),
})
export type RepositoryInfoDto = z.infer<typeof RepositoryInfoDtoSchema>

export const PointStatsSchema = z.object({
  bytesRead: z.number(),
  bytesNew: z.number(),
  bytesStored: z.number(),
  chunksNew: z.number(),
  chunksReused: z.number(),
  chunksZero: z.number(),
  chunksFromParent: z.number(),
  /** Bytes skipped as holes without reading; absent in points from before it was counted. */
  bytesHoles: z.number().optional(),
  /** Bytes read and found all zero; absent in points from before it was counted. */
  bytesZero: z.number().optional(),
})

export const PointSummaryDtoSchema = z.object({
  id: z.string(),
  parentId: z.string().nullable(),
  vm: z.object({ id: z.string(), name: z.string() }),
  sourceHost: z.object({ name: z.string(), kind: z.string().optional(), id: z.string().optional() }),
  mode: z.enum(['cold', 'warm', 'hot']),
  consistency: z.enum(['offline', 'app', 'crash']),
  startedAt: z.string(),
  finishedAt: z.string(),
  disks: z.array(z.object({ name: z.string(), size: z.number() })),
  stats: PointStatsSchema,
  /** The newest health check of this point (points.check), when it had one. */
  lastCheck: PointCheckDtoSchema.optional(),
})
export type PointSummaryDto = z.infer<typeof PointSummaryDtoSchema>

export const RetentionPolicySchema = z
  .object({
    keepLast: z.number().int().min(0).max(10_000).optional(),
    keepHourly: z.number().int().min(0).max(10_000).optional(),
    keepDaily: z.number().int().min(0).max(10_000).optional(),
    keepWeekly: z.number().int().min(0).max(10_000).optional(),
    keepMonthly: z.number().int().min(0).max(10_000).optional(),
    keepYearly: z.number().int().min(0).max(10_000).optional(),
  })
  .refine((p) => Object.values(p).some((v) => v > 0), 'Keep at least one restore point: set one of the keep rules.')

const Decision = z.object({ id: z.string(), group: z.string(), keep: z.boolean(), reasons: z.array(z.string()) })

export const JobStartedSchema = z.object({ jobId: z.string() })

export const repoInit = defineChannel(
  'repo.init',
  RepoRefSchema.extend({
    passphrase: z.string().min(8, 'Use at least 8 characters for the passphrase.').max(1024).optional(),
    /** For s3:// locations: used to create the repository, then kept with the credentials. */
    s3Credentials: S3CredentialsInputSchema.optional(),
  }),
  RepositoryInfoDtoSchema,
  'Create a repository at a location — local folder, sftp://HOST/FOLDER or s3://BUCKET/PREFIX (encrypted when a passphrase is given; Lifeboat keeps the passphrase and any S3 credentials with its credentials).',
)

export const repoInfo = defineChannel('repo.info', RepoRefSchema, RepositoryInfoDtoSchema, 'What a repository is and holds.')

export const repoCheck = defineChannel(
  'repo.check',
  RepoRefSchema,
  z.object({
    ok: z.boolean(),
    points: z.number(),
    chunks: z.number(),
    unreferencedChunks: z.number(),
    unreferencedBytes: z.number(),
    problems: z.array(z.object({ kind: z.string(), pointId: z.string().optional(), chunkId: z.string().optional(), message: z.string() })),
  }),
  'A quick consistency check of the repository layout (no chunk is re-read; verify does that).',
)

export const repoVerify = defineChannel(
  'repo.verify',
  RepoRefSchema.extend({
    /**
     * A copy of this repository (points.copy) to re-fetch damaged chunks and manifests from; the job's result is then
     * a repair report (found, repairedChunks, repairedManifests, unrepaired: the points the copy could not mend).
     */
    repairFrom: RepoLocationSchema.optional(),
    /** Verify only this restore point and the chunks it uses (not with repairFrom). */
    pointId: z.string().min(1).max(200).optional(),
  }),
  JobStartedSchema,
  'Re-read and re-hash every chunk (a job); its result names every damaged restore point, disk and chunk. With repairFrom, damaged chunks are re-fetched from a copy.',
)

export const repoPrune = defineChannel(
  'repo.prune',
  RepoRefSchema.extend({ policy: RetentionPolicySchema, dryRun: z.boolean().default(true) }),
  z.object({
    dryRun: z.boolean(),
    kept: z.array(Decision),
    removed: z.array(Decision),
    skipped: z.array(z.object({ pointId: z.string(), reason: z.string() })),
    /** Points the rules would remove but S3 Object Lock still protects, with the date their lock ends. */
    locked: z.array(z.object({ pointId: z.string(), until: z.string() })).default([]),
  }),
  'Apply a retention policy per VM (dry run by default: shows what would go and why each point is kept).',
)

export const repoGc = defineChannel(
  'repo.gc',
  RepoRefSchema.extend({ dryRun: z.boolean().default(false) }),
  JobStartedSchema,
  'Reclaim space: delete chunks no restore point uses (a job; safe while backups run).',
)

export const pointsList = defineChannel(
  'points.list',
  RepoRefSchema.extend({ vm: z.string().max(500).optional() }),
  z.array(PointSummaryDtoSchema),
  'Restore points, newest first (optionally of one VM, by id or name).',
)

export const pointsGet = defineChannel('points.get', RepoRefSchema.extend({ pointId: z.string().min(1).max(200) }), PointSummaryDtoSchema, 'One restore point.')

export const pointsExport = defineChannel(
  'points.export',
  RepoRefSchema.extend({
    pointId: z.string().min(1).max(200),
    disk: z.string().min(1).max(200),
    format: z.enum(['raw', 'qcow2', 'vhd', 'vhdx']),
    output: z.string().min(1).max(4096),
  }),
  JobStartedSchema,
  'Write one disk of a restore point as a raw, qcow2, VHD or VHDX image file (a job).',
)

export const backupFile = defineChannel(
  'backup.file',
  RepoRefSchema.extend({ image: z.string().min(1).max(4096), vmName: z.string().min(1).max(200).optional() }),
  JobStartedSchema,
  'Back up a local disk image file (raw, qcow2, VHD, VHDX — its guest contents) as a restore point (a job).',
)

export const ObjectLockInputSchema = z.object({
  /**
   * GOVERNANCE: nobody can delete or overwrite a point before its date, except an account explicitly allowed to bypass
   * governance. COMPLIANCE: nobody at all, not even the bucket's owner or an administrator, until the date has passed.
   */
  mode: z.enum(['GOVERNANCE', 'COMPLIANCE']),
  days: z.number().int().min(1).max(36_500),
})

export const repoSetObjectLock = defineChannel(
  'repo.setObjectLock',
  RepoRefSchema.extend({ lock: ObjectLockInputSchema.nullable() }),
  RepositoryInfoDtoSchema,
  'Keep each new restore point immutable for N days with S3 Object Lock (null: stop locking new points). Folders and SFTP cannot: refused, saying so.',
)
