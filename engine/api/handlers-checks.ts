import { findHost } from '../inventory/host-access'
import { MAX_CHECK_SCREENSHOT_BYTES } from './contract-checks'
import { ApiError } from './contract-errors'
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
  const screenshot: Handler<'points.checkScreenshot'> = async (input, { signal }) => {
    const repo = await deps.repositories.open(input.repo === undefined ? {} : { location: input.repo }, signal)
    let repositoryId: string
    try {
      repositoryId = repo.info().id
    } finally {
      await repo.close()
    }
    const found = await deps.pointChecks.screenshot(repositoryId, input.point, MAX_CHECK_SCREENSHOT_BYTES)
    if (found === undefined) throw new ApiError('NOT_FOUND', `There is no screenshot of a health check of ${input.point} (it was never checked, or the host could not take one).`)
    return { jobId: found.check.jobId, checkedAt: found.check.checkedAt, mimeType: found.mimeType, dataBase64: found.data.toString('base64') }
  }
  return { 'points.check': check, 'points.checkScreenshot': screenshot } as const
}
