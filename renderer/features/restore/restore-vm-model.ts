import type { HostInventoryDto, PointSummaryDto } from '../../../engine/api/contract'

/** Why a restore over the original VM is not offered (the dialog says it in plain words). */
export type InPlaceBlocker = 'otherHost' | 'gone' | 'running' | 'paused' | 'suspended' | 'saved' | 'unknown'

const pad = (n: number) => String(n).padStart(2, '0')

/** "<name>-restored-YYYYMMDD-HHMM" in local time: a new VM's default name, never the original's. */
export function defaultRestoreName(vmName: string, at: Date): string {
  const stamp = `${at.getFullYear()}${pad(at.getMonth() + 1)}${pad(at.getDate())}-${pad(at.getHours())}${pad(at.getMinutes())}`
  return `${vmName}-restored-${stamp}`
}

type InventoryVm = HostInventoryDto['vms'][number]

/** Whether `host` is the one the restore point was backed up from (by id when the point has it, else by name). */
function isSourceHost(point: PointSummaryDto, host: HostInventoryDto): boolean {
  return point.sourceHost.id !== undefined ? host.hostId === point.sourceHost.id : host.name === point.sourceHost.name
}

/** The point's VM on that host: by id, else by name (a VM redefined under a new id). */
function findVm(point: PointSummaryDto, host: HostInventoryDto): InventoryVm | undefined {
  return host.vms.find((v) => v.id === point.vm.id) ?? host.vms.find((v) => v.name === point.vm.name)
}

/**
 * Overwriting the original VM is only possible on the host it was backed up from, while that host still has the VM,
 * and once the VM is shut off (Lifeboat never stops a VM to overwrite it).
 */
export function inPlaceBlocker(point: PointSummaryDto, host: HostInventoryDto | undefined): InPlaceBlocker | undefined {
  if (host === undefined || !isSourceHost(point, host)) return 'otherHost'
  const vm = findVm(point, host)
  if (vm === undefined) return 'gone'
  if (vm.powerState === 'suspended' && host.kind === 'hyperv') return 'saved'
  if (vm.powerState !== 'halted') return vm.powerState
  return undefined
}

/** The original VM as its source host shows it now (undefined when that host or the VM is not known). */
export function originalVm(point: PointSummaryDto, hosts: readonly HostInventoryDto[]): InventoryVm | undefined {
  const source = hosts.find((h) => isSourceHost(point, h))
  return source === undefined ? undefined : findVm(point, source)
}

/** True when the chosen storage says how much is free and that is less than the VM's disks need. */
export function storageShortfall(storage: NonNullable<HostInventoryDto['storage']>, chosen: string, bytesNeeded: number): boolean {
  if (chosen === '') return false
  const entry = storage.find((s) => s.id === chosen)
  return entry?.freeBytes !== undefined && entry.freeBytes < bytesNeeded
}
