import { z } from 'zod'
import { defineChannel } from './contract-core'
import { ApiErrorSchema } from './contract-errors'

export const JobStateSchema = z.enum(['queued', 'running', 'cancelling', 'succeeded', 'failed', 'cancelled'])
export type JobState = z.infer<typeof JobStateSchema>

export const JobProgressSchema = z.object({
  phase: z.string(),
  bytesDone: z.number(),
  bytesTotal: z.number().optional(),
  bytesNew: z.number().optional(),
  /** Bytes per second, smoothed. */
  rate: z.number().optional(),
  etaSeconds: z.number().optional(),
  /** Human words for the log and the CLI; programs read the structured fields, not this text, which may change. */
  detail: z.string().optional(),
  /**
   * Which try this is, from 1, in a phase that tries again: a served run's `reconnecting` (points.run, after the SSH
   * connection carrying its disks was lost). Absent in other phases, and in job records of an older Lifeboat, which
   * named the try in `detail` only: read its absence as the first try.
   */
  attempt: z.number().int().min(1).optional(),
  /**
   * The VM a served run's job is about (points.run in its `running` and `reconnecting` phases), by name on its host:
   * what ties the job to its run for programs, without reading `detail`. Absent in other phases and in job records of
   * an older Lifeboat.
   */
  vm: z.string().min(1).max(512).optional(),
})

export const JobStepSchema = z.object({
  id: z.string(),
  label: z.string(),
  state: z.enum(['pending', 'running', 'done', 'failed', 'skipped', 'cancelled']),
})

export const JobDtoSchema = z.object({
  id: z.string(),
  kind: z.string(),
  title: z.string(),
  state: JobStateSchema,
  hostId: z.string().optional(),
  vmId: z.string().optional(),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  endedAt: z.string().optional(),
  progress: JobProgressSchema,
  steps: z.array(JobStepSchema),
  error: ApiErrorSchema.optional(),
  /** What a failed or cancelled job could not clean up, in plain words. Empty means nothing was left behind. */
  leftBehind: z.array(z.string()),
  /** True when `jobs.retry` can start this job again with the same request. */
  retryable: z.boolean().optional(),
})
export type JobDto = z.infer<typeof JobDtoSchema>

export const JobLogLineSchema = z.object({
  at: z.string(),
  level: z.enum(['info', 'warn', 'error']),
  message: z.string(),
})

/** The request that started a job, kept so `jobs.retry` can send it again. Never holds secrets. */
export const JobRetrySchema = z.object({ channel: z.string().max(100), input: z.json() })
export type JobRetry = z.infer<typeof JobRetrySchema>

export const JobDetailDtoSchema = JobDtoSchema.extend({
  log: z.array(JobLogLineSchema),
  retry: JobRetrySchema.optional(),
  /** What a finished job produced (the restore point it created, a verify report…), as plain JSON. */
  result: z.json().optional(),
})
export type JobDetailDto = z.infer<typeof JobDetailDtoSchema>

const JobRef = z.object({ jobId: z.string().min(1).max(200) })

export const jobsList = defineChannel(
  'jobs.list',
  z.object({ limit: z.number().int().min(1).max(1000).default(100) }),
  z.array(JobDtoSchema),
  'Running and recent jobs, newest first.',
)

export const jobsGet = defineChannel('jobs.get', JobRef, JobDetailDtoSchema, 'One job with its log.')

export const jobsCancel = defineChannel(
  'jobs.cancel',
  JobRef,
  JobDtoSchema,
  'Ask a running job to stop; it cleans up (snapshots, locks, connections) before it reports cancelled.',
)

export const jobsRetry = defineChannel(
  'jobs.retry',
  JobRef,
  z.object({ jobId: z.string() }),
  'Start a finished job again with the request that started it; answers the new job id.',
)
