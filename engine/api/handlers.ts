import type { AdapterRegistry } from '../../adapters/registry'
import type { BrowseService } from '../browse/browse-service'
import type { Repositories } from '../repositories/repositories'
import type { Scheduler } from '../scheduler/scheduler'
import type { InventoryService } from '../inventory/inventory-service'
import type { JobRunner } from '../jobs/job-runner'
import type { HostsStore } from '../state/hosts-store'
import type { SecretStore } from '../state/secret-store'
import type { AppInfo } from './contract'
import { ApiError } from './contract-errors'
import type { EventBus } from './event-bus'
import type { HandlerMap } from './handler-types'
import { fileHandlers } from './handlers-files'
import { hostHandlers } from './handlers-hosts'
import { planHandlers } from './handlers-plans'
import { repositoryHandlers } from './handlers-repository'

export interface HandlerDeps {
  readonly info: AppInfo
  readonly hosts: HostsStore
  readonly secrets: SecretStore
  readonly adapters: AdapterRegistry
  readonly inventory: InventoryService
  readonly jobs: JobRunner
  readonly events: EventBus
  readonly browse: BrowseService
  readonly repositories: Repositories
  readonly scheduler: Scheduler
  readonly connectTimeoutMs?: number
}

/** The implementation of every channel in the contract. Each door mounts exactly this map. */
export function createHandlers(deps: HandlerDeps): HandlerMap {
  return {
    'app.info': () => Promise.resolve(deps.info),
    ...hostHandlers(deps),
    ...fileHandlers(deps.browse),
    ...repositoryHandlers(deps),
    ...planHandlers(deps.scheduler),
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
    'jobs.list': (input) => deps.jobs.list(input.limit),
    'jobs.get': (input) => deps.jobs.get(input.jobId),
    'jobs.cancel': (input) => deps.jobs.cancel(input.jobId),
  }
}
