import { ApiError } from '../api/contract-errors'
import type { Plan, PlanCheck, PlanCheckOutcome } from '../api/contract-plans'
import type { JobContext, JobSpec } from '../jobs/job-runner'
import type { Repositories } from '../repository-access/repositories'
import { newestPointsOf } from './newest-points'
import { compileSchedule } from './schedule'

/** The check's own schedule, compiled (a "manual" one never fires and is refused when the plan is saved); errors name its field. */
export function checkCron(schedule: NonNullable<PlanCheck['schedule']>) {
  try {
    return compileSchedule(schedule)
  } catch (err) {
    if (err instanceof ApiError) throw new ApiError(err.code, err.message.replace('The schedule', "The boot check's schedule"), { ...err.params, field: 'checkSchedule' })
    throw err
  }
}

/** A scheduled check's outcome with the plan's VMs that have no point to boot yet: no proof for them is no "booted". */
export function withMissing(checked: PlanCheckOutcome | undefined, missing: readonly string[], now: Date): PlanCheckOutcome {
  const lines = missing.map((vm) => `${vm}: no restore point to check yet`)
  if (checked === undefined) return { verdict: 'error', summary: lines.join('; ') || 'The plan has no VMs to check.', at: now.toISOString(), pointIds: [], jobIds: [] }
  if (lines.length === 0) return checked
  return { ...checked, verdict: checked.verdict === 'booted' ? 'error' : checked.verdict, summary: [checked.summary, ...lines].join('; ') }
}

export interface ScheduledCheck {
  readonly plan: Plan
  readonly check: PlanCheck
  readonly repositories: Repositories
  readonly now: () => Date
  /** Boots the points one after another (and alerts when one did not boot). */
  readonly checkPoints: (points: readonly { id: string; label: string }[], ctx: JobContext) => Promise<PlanCheckOutcome>
  /** Keeps the verdict in the plan's status. */
  readonly save: (outcome: PlanCheckOutcome) => Promise<void>
  /** Releases the plan's check lock, taken by the caller before the job was started; called on every path. */
  readonly release: () => Promise<void>
}

/** The job (kind `plan.check`) of a check on the plan's own schedule: the newest point of each of its VMs, whichever run made it. */
export function scheduledCheckJob(o: ScheduledCheck): JobSpec<{ check: PlanCheckOutcome }> {
  return {
    kind: 'plan.check',
    title: `Boot check of plan "${o.plan.name}"`,
    steps: [{ id: 'check', label: `Check that the newest restore points boot on ${o.check.hostName ?? o.check.host}` }],
    run: async (ctx) => {
      try {
        const end = ctx.step('check')
        const { points, missing } = await newestPointsOf(o.plan, o.repositories, ctx.signal)
        const checked = points.length > 0 ? await o.checkPoints(points, ctx) : undefined
        const outcome = withMissing(checked, missing, o.now())
        end(outcome.verdict === 'booted' ? 'done' : 'failed')
        if (outcome.verdict !== 'booted') ctx.log('warn', outcome.summary)
        await o.save(outcome)
        return { check: outcome }
      } finally {
        await o.release()
      }
    },
  }
}
