import { findHost, connectHost } from '../inventory/host-access'
import { endServingForDiscard, pointRunJob, requireInstantRun, runPermanentJob, toRunDto } from '../jobs/run-job'
import type { Handler } from './handler-types'
import type { HandlerDeps } from './handler-deps'

export function runHandlers(deps: HandlerDeps) {
  const run: Handler<'points.run'> = async (input) => {
    const record = await findHost(deps, input.host)
    const job = deps.jobs.start(
      pointRunJob(deps, record, {
        pointId: input.point,
        network: input.network,
        ...(input.repo !== undefined ? { repo: input.repo } : {}),
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.resume !== undefined ? { resume: input.resume } : {}),
      }),
    )
    return { jobId: job.id }
  }
  const list: Handler<'runs.list'> = async (input, { signal }) => {
    const record = await findHost(deps, input.host)
    const adapter = await connectHost(deps, record, signal)
    try {
      return (await requireInstantRun(adapter, record, 'POINT').list(signal)).map(toRunDto)
    } finally {
      await adapter.close().catch(() => undefined)
    }
  }
  const permanent: Handler<'runs.makePermanent'> = async (input) => {
    const record = await findHost(deps, input.host)
    return { jobId: deps.jobs.start(runPermanentJob(deps, record, input.name)).id }
  }
  const discard: Handler<'runs.discard'> = async (input, { signal }) => {
    const record = await findHost(deps, input.host)
    // Connected first: a host out of reach fails the discard and leaves a job serving (or reconnecting) untouched.
    const adapter = await connectHost(deps, record, signal)
    try {
      const run = requireInstantRun(adapter, record, 'POINT')
      // A job of this process that serves the VM stops first, so it does not serve again (or reconnect) for it.
      await endServingForDiscard(record.id, input.name, signal)
      const r = await run.discard(input.name, signal)
      return { leftBehind: [...r.leftBehind] }
    } finally {
      await adapter.close().catch(() => undefined)
    }
  }
  return { 'points.run': run, 'runs.list': list, 'runs.makePermanent': permanent, 'runs.discard': discard } as const
}
