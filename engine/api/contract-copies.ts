import { z } from 'zod'
import { defineChannel } from './contract-core'
import { JobStartedSchema, RepoLocationSchema, RepoRefSchema, RetentionPolicySchema, S3CredentialsInputSchema } from './contract-repository'

/**
 * Copies of restore points in a second repository (3-2-1): the copy is a repository of its own (same id and key
 * record as the source, so it opens and restores with the same passphrase), in a local folder, on a saved host over
 * SFTP or in S3. Only chunks the copy lacks travel, and a copied point counts only once every chunk was read back
 * from the copy and proven against its id.
 */
export const CopyReportDtoSchema = z.object({
  pointId: z.string(),
  /** The copy's location, normalised. */
  target: z.string(),
  targetCreated: z.boolean(),
  alreadyThere: z.boolean(),
  chunks: z.number(),
  chunksSent: z.number(),
  bytesSent: z.number(),
  chunksShared: z.number(),
  chunksResumed: z.number(),
  chunksVerified: z.number(),
})
export type CopyReportDto = z.infer<typeof CopyReportDtoSchema>

export const pointsCopy = defineChannel(
  'points.copy',
  RepoRefSchema.extend({
    pointId: z.string().min(1).max(200),
    /** Where the copy goes: an empty place (it becomes a copy of this repository) or an earlier copy of it. */
    to: RepoLocationSchema,
    /** For an s3:// target: used for the copy, then kept with the credentials. */
    s3Credentials: S3CredentialsInputSchema.optional(),
  }),
  JobStartedSchema,
  'Copy a restore point to a second repository (a job; its result is a CopyReport). Cancelling leaves the copy consistent; copying again resumes.',
)

/** A copy of a plan's new restore points, made after each successful run, with the copy's own retention. */
export const PlanCopySchema = z.object({
  to: RepoLocationSchema,
  /** Applied to the copy (per VM of the plan) after each run; absent: the copy keeps everything. */
  retention: RetentionPolicySchema.optional(),
})
export type PlanCopy = z.infer<typeof PlanCopySchema>

export const CopyPlaceSchema = z.object({
  location: z.string(),
  /** Not on this machine's own disks: another host (SFTP), object storage (S3) or a network filesystem. */
  offMachine: z.boolean(),
  /** The repository asked about (the others are copies of it). */
  primary: z.boolean(),
  /** When the copy was made and proven (absent for the primary). */
  copiedAt: z.string().optional(),
})

export const VmCopiesDtoSchema = z.object({
  vmId: z.string(),
  vmName: z.string(),
  /** The VM's newest restore point in the repository asked about. */
  pointId: z.string(),
  /** Independent copies of that point, the repository asked about included ("2 copies"). */
  copies: z.number(),
  /** How many of them are off this machine ("1 off this machine"). */
  offMachine: z.number(),
  places: z.array(CopyPlaceSchema),
})
export type VmCopiesDto = z.infer<typeof VmCopiesDtoSchema>

export const copiesSummary = defineChannel(
  'copies.summary',
  RepoRefSchema,
  z.array(VmCopiesDtoSchema),
  'Per VM: how many independent copies its newest restore point has, and where (copies this Lifeboat made and proved).',
)

/** What can keep a repository's restore points from being deleted or overwritten (S3 Object Lock only). */
export const IMMUTABILITY_NOTE =
  'Folders and SFTP repositories cannot be made immutable: anyone who can write there can delete restore points. For restore points that a stolen credential cannot delete, use an S3 repository with Object Lock.'
