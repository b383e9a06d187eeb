import { z } from 'zod'
import { ApiErrorSchema } from '../api/contract-errors'
import type { JobDetailDto, JobDto } from '../api/contract-jobs'

/**
 * The job runner's own record of a job: what it keeps in memory, what the job store writes to disk (one file per
 * job, read back after a restart and by other Lifeboat processes) and what it hands to the doors, which answer with
 * the contract's JobDto / JobDetailDto (toJobDto / toJobDetailDto below). Kept apart from the wire type so that
 * neither the files on disk nor the runner change when the contract does; the mappings are written field by field,
 * so the compiler names any field one side gains.
 */
export const JobRecordSchema = z.object({
  id: z.string(),
  kind: z.string(),
  title: z.string(),
  state: z.enum(['queued', 'running', 'cancelling', 'succeeded', 'failed', 'cancelled']),
  hostId: z.string().optional(),
  vmId: z.string().optional(),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  endedAt: z.string().optional(),
  progress: z.object({
    phase: z.string(),
    bytesDone: z.number(),
    bytesTotal: z.number().optional(),
    bytesNew: z.number().optional(),
    rate: z.number().optional(),
    etaSeconds: z.number().optional(),
    detail: z.string().optional(),
    /** Absent in records an older Lifeboat wrote (it named the try in `detail` only). */
    attempt: z.number().int().min(1).optional(),
    /** Absent in records an older Lifeboat wrote (it named the VM in `detail` only). */
    vm: z.string().min(1).max(512).optional(),
  }),
  steps: z.array(z.object({ id: z.string(), label: z.string(), state: z.enum(['pending', 'running', 'done', 'failed', 'skipped', 'cancelled']) })),
  /** The failure in the contract's words (code, message, params), as the admin was told. */
  error: ApiErrorSchema.optional(),
  leftBehind: z.array(z.string()),
  log: z.array(z.object({ at: z.string(), level: z.enum(['info', 'warn', 'error']), message: z.string() })),
  /** The request that started the job (channel and input, never secrets), so it can be started again. */
  retry: z.object({ channel: z.string().max(100), input: z.json() }).optional(),
  result: z.json().optional(),
})
export type JobRecord = z.infer<typeof JobRecordSchema>
export type JobState = JobRecord['state']
export type StepState = JobRecord['steps'][number]['state']
export type LogLevel = JobRecord['log'][number]['level']

/** A job as `jobs.list`, `jobs.cancel` and the `job.updated` event show it: no log, result or request. */
export function toJobDto(job: JobRecord): JobDto {
  return {
    id: job.id,
    kind: job.kind,
    title: job.title,
    state: job.state,
    createdAt: job.createdAt,
    progress: { ...job.progress },
    steps: job.steps.map((s) => ({ ...s })),
    leftBehind: [...job.leftBehind],
    ...(job.hostId !== undefined ? { hostId: job.hostId } : {}),
    ...(job.vmId !== undefined ? { vmId: job.vmId } : {}),
    ...(job.startedAt !== undefined ? { startedAt: job.startedAt } : {}),
    ...(job.endedAt !== undefined ? { endedAt: job.endedAt } : {}),
    ...(job.error !== undefined ? { error: job.error } : {}),
    ...(job.retry !== undefined ? { retryable: true } : {}),
  }
}

/** A job as `jobs.get` shows it: everything, with its log, result and the request that started it. */
export function toJobDetailDto(job: JobRecord): JobDetailDto {
  return {
    ...toJobDto(job),
    log: job.log.map((l) => ({ ...l })),
    ...(job.retry !== undefined ? { retry: job.retry } : {}),
    ...(job.result !== undefined ? { result: job.result } : {}),
  }
}
