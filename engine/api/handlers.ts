import { toJobDetailDto, toJobDto } from '../jobs/job-record'
import { ApiError } from './contract-errors'
import { dispatch } from './dispatch'
import type { HandlerDeps } from './handler-deps'
import type { HandlerMap } from './handler-types'
import { archiveHandlers } from './handlers-archive'
import { backupHandlers } from './handlers-backup'
import { checkHandlers } from './handlers-checks'
import { copyHandlers } from './handlers-copies'
import { guestFileHandlers } from './handlers-guest-files'
import { fileHandlers } from './handlers-files'
import { hostHandlers } from './handlers-hosts'
import { notifyHandlers } from './handlers-notify'
import { planHandlers } from './handlers-plans'
import { repositoryHandlers } from './handlers-repository'
import { runHandlers } from './handlers-run'
import { serveHandlers } from './handlers-serve'


/** The implementation of every channel in the contract. Each door mounts exactly this map. */
export function createHandlers(deps: HandlerDeps): HandlerMap {
  const map: HandlerMap = {
    'app.info': () => Promise.resolve(deps.info),
    ...hostHandlers(deps),
    ...fileHandlers(deps.browse),
    ...backupHandlers(deps),
    ...guestFileHandlers(deps),
    ...archiveHandlers(deps),
    ...repositoryHandlers(deps),
    ...copyHandlers(deps),
    ...checkHandlers(deps),
    ...serveHandlers(deps),
    ...runHandlers(deps),
    ...planHandlers(deps.scheduler),
    ...notifyHandlers(deps, deps.notify),
    'inventory.tree': () => deps.inventory.tree(),
    'inventory.refresh': (input, ctx) => deps.inventory.refresh(input.hostId, ctx.signal, { reconnect: input.reconnect }),
    'vms.list': async (input, ctx) => {
      let hostId: string | undefined
      if (input.host !== undefined) {
        const record = await deps.hosts.find(input.host)
        if (!record) throw new ApiError('HOST_NOT_FOUND', `There is no saved host "${input.host}".`, { host: input.host })
        hostId = record.id
      }
      const tree = await deps.inventory.refresh(hostId, ctx.signal)
      const hosts = tree.hosts.filter((h) => hostId === undefined || h.hostId === hostId)
      return {
        vms: hosts.flatMap((h) => h.vms),
        errors: hosts.flatMap((h) => (h.status === 'error' && h.error ? [{ hostId: h.hostId, host: h.name, error: h.error }] : [])),
      }
    },
    'jobs.list': async (input) => (await deps.jobs.list(input.limit)).map(toJobDto),
    'jobs.get': async (input) => toJobDetailDto(await deps.jobs.get(input.jobId)),
    'jobs.cancel': async (input) => toJobDto(await deps.jobs.cancel(input.jobId)),
    'jobs.retry': async (input, ctx) => {
      const job = await deps.jobs.get(input.jobId)
      if (job.state === 'queued' || job.state === 'running' || job.state === 'cancelling') {
        throw new ApiError('STATE_BUSY', 'That job is still running; wait for it to end before starting it again.', { jobId: job.id })
      }
      if (!job.retry || job.retry.channel === 'jobs.retry') {
        throw new ApiError('NOT_SUPPORTED', 'This job cannot be started again from here; start it from where it was started.', { jobId: job.id })
      }
      // The stored request goes through the same door checks as a fresh call: schema, handler, output.
      const answer = await dispatch(map, job.retry.channel, job.retry.input, ctx)
      if (!answer.ok) throw ApiError.from(answer.error)
      const value = answer.value
      if (typeof value !== 'object' || value === null || !('jobId' in value) || typeof value.jobId !== 'string') {
        throw new ApiError('INTERNAL', 'The job was started again but did not report its new job id.')
      }
      return { jobId: value.jobId }
    },
  }
  return map
}
