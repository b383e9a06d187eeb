import { PointCheckDtoSchema } from '../api/contract-checks'
import { ApiError } from '../api/contract-errors'
import type { PlanCheck, PlanCheckOutcome } from '../api/contract-plans'
import { toApiError } from '../errors/to-api-error'
import { findHost } from '../inventory/host-access'
import { pointCheckJob, type PointCheckJobDeps } from '../jobs/check-job'
import type { JobContext, JobRunner } from '../jobs/job-runner'

export interface CheckRequest {
  readonly point: string
  readonly repo?: string
  readonly host: string
  readonly timeoutSec: number
}

/** Starts a health-check job (`points.check`); the caller gets its id at once and follows the job. */
export type StartCheck = (request: CheckRequest) => Promise<{ readonly jobId: string }>

/** The same job the `points.check` handler starts, for plan runs. */
export function checkStarter(deps: PointCheckJobDeps & { readonly jobs: JobRunner }): StartCheck {
  return async (request) => {
    const record = await findHost(deps, request.host)
    const job = deps.jobs.start(pointCheckJob(deps, record, { pointId: request.point, timeoutSec: request.timeoutSec, ...(request.repo !== undefined ? { repo: request.repo } : {}) }))
    return { jobId: job.id }
  }
}

export interface PlanCheckDeps {
  readonly jobs: JobRunner
  readonly startCheck: StartCheck
  readonly now: () => Date
}

/**
 * Boots each point a plan run made, one after another: each is a temporary VM on the same host, and one at a time
 * keeps the host's extra load to one guest. The outcome never fails the run — a point that does not boot makes it
 * "backed up, but did not boot" — except a cancel, which cancels the check in progress and ends the run as cancelled.
 */
export async function checkPlanPoints(
  deps: PlanCheckDeps,
  check: PlanCheck,
  points: readonly { readonly id: string; readonly label: string }[],
  repo: string | undefined,
  ctx: JobContext,
): Promise<PlanCheckOutcome> {
  const lines: string[] = []
  const jobIds: string[] = []
  let failed = false
  let noVerdict = false
  for (const point of points) {
    if (ctx.signal.aborted) break
    let jobId: string
    try {
      jobId = (await deps.startCheck({ point: point.id, host: check.host, timeoutSec: check.timeoutSec, ...(repo !== undefined ? { repo } : {}) })).jobId
    } catch (err) {
      noVerdict = true
      lines.push(`${point.label}: the check could not start: ${toApiError(err).message}`)
      continue
    }
    jobIds.push(jobId)
    ctx.log('info', `${point.label}: health check job ${jobId} started on ${check.hostName ?? check.host}.`)
    const onAbort = () => void deps.jobs.cancel(jobId)
    ctx.signal.addEventListener('abort', onAbort, { once: true })
    let done: Awaited<ReturnType<JobRunner['waitFor']>>
    try {
      done = await deps.jobs.waitFor(jobId)
    } finally {
      ctx.signal.removeEventListener('abort', onAbort)
    }
    for (const l of done.leftBehind) ctx.leftBehind(`${point.label}: ${l}`)
    const verdict = done.state === 'succeeded' ? PointCheckDtoSchema.safeParse(done.result) : undefined
    if (verdict?.success === true) {
      if (verdict.data.verdict === 'failed') failed = true
      lines.push(`${point.label}: ${verdict.data.summary}`)
      ctx.log(verdict.data.verdict === 'booted' ? 'info' : 'warn', `${point.label}: ${verdict.data.summary}`)
    } else {
      noVerdict = true
      const why = done.error?.message ?? (done.state === 'succeeded' ? 'the check gave no verdict' : done.state)
      lines.push(`${point.label}: the check could not run: ${why}`)
      ctx.log('warn', `${point.label}: the health check could not run: ${why}`)
    }
  }
  if (ctx.signal.aborted) throw new ApiError('CANCELLED', 'The plan run was cancelled during the health check.')
  return {
    verdict: failed ? 'failed' : noVerdict ? 'error' : 'booted',
    summary: lines.join('; '),
    at: deps.now().toISOString(),
    pointIds: points.map((p) => p.id),
    jobIds,
  }
}
