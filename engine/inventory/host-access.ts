import type { HostAdapter, Vm } from '../../adapters/host-adapter'
import type { AdapterRegistry } from '../../adapters/registry'
import { ApiError } from '../api/contract-errors'
import { adapterOptionsFor } from './adapter-options'
import type { SavedHost, HostsStore } from '../state/hosts-store'
import type { SecretStore } from '../state/secret-store'

export interface HostAccessDeps {
  readonly hosts: HostsStore
  readonly secrets: SecretStore
  readonly adapters: AdapterRegistry
  readonly connectTimeoutMs?: number
}

export async function findHost(deps: HostAccessDeps, idOrName: string): Promise<SavedHost> {
  const record = await deps.hosts.find(idOrName)
  if (!record) throw new ApiError('HOST_NOT_FOUND', `There is no saved host "${idOrName}".`, { host: idOrName })
  return record
}

/**
 * A connection of its own for a job (not the inventory's shared one): a backup's long streams and its cleanup never
 * compete with polling, and closing it at the end of the job is unambiguous. The caller closes it.
 */
export async function connectHost(deps: HostAccessDeps, record: SavedHost, signal: AbortSignal): Promise<HostAdapter> {
  const secret = await deps.secrets.get(record.id)
  const adapter = await deps.adapters.create(adapterOptionsFor(record, secret, record.fingerprint, deps.connectTimeoutMs))
  try {
    await adapter.connect(signal)
    return adapter
  } catch (err) {
    await adapter.close().catch(() => undefined)
    throw err
  }
}

/** A VM by id, or by exact name when that name is unique on the host. */
export async function findVm(adapter: HostAdapter, host: string, idOrName: string, signal: AbortSignal): Promise<Vm> {
  const inventory = await adapter.inventory(signal)
  const byId = inventory.vms.find((v) => v.id === idOrName || v.id === idOrName.toLowerCase())
  if (byId) return byId
  const byName = inventory.vms.filter((v) => v.name === idOrName)
  if (byName.length > 1) throw new ApiError('INVALID_INPUT', `${host} has ${byName.length} VMs named "${idOrName}"; name the VM by its id.`, { vm: idOrName })
  const vm = byName[0]
  if (vm === undefined) throw new ApiError('NOT_FOUND', `${host} has no VM "${idOrName}".`, { host, vm: idOrName })
  return vm
}
