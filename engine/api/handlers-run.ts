import { findHost, connectHost } from '../inventory/host-access'
import { pointRunJob, requireInstantRun, runPermanentJob, toRunDto } from '../jobs/run-job'
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
    const adapter = await connectHost(deps, record, signal)
    try {
      const r = await requireInstantRun(adapter, record, 'POINT').discard(input.name, signal)
      return { leftBehind: [...r.leftBehind] }
    } finally {
      await adapter.close().catch(() => undefined)
    }
  }
  return { 'points.run': run, 'runs.list': list, 'runs.makePermanent': permanent, 'runs.discard': discard } as const
}
