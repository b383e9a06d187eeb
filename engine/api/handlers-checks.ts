import { findHost } from '../inventory/host-access'
import { pointCheckJob } from '../jobs/check-job'
import type { Handler } from './handler-types'
import type { HandlerDeps } from './handler-deps'

export function checkHandlers(deps: HandlerDeps) {
  const check: Handler<'points.check'> = async (input) => {
    const record = await findHost(deps, input.host)
    const job = deps.jobs.start(
      pointCheckJob(deps, record, {
        pointId: input.point,
        timeoutSec: input.timeoutSec,
        ...(input.repo !== undefined ? { repo: input.repo } : {}),
        ...(input.command !== undefined ? { command: input.command } : {}),
      }),
    )
    return { jobId: job.id }
  }
  return { 'points.check': check } as const
}
