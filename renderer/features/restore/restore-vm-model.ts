import type { HostInventoryDto, PointSummaryDto } from '../../../engine/api/contract'

/** Why a restore over the original VM is not offered (the dialog says it in plain words). */
export type InPlaceBlocker = 'otherHost' | 'gone' | 'running'

const pad = (n: number) => String(n).padStart(2, '0')

/** "<name>-restored-YYYYMMDD-HHMM" in local time: a new VM's default name, never the original's. */
export function defaultRestoreName(vmName: string, at: Date): string {
  const stamp = `${at.getFullYear()}${pad(at.getMonth() + 1)}${pad(at.getDate())}-${pad(at.getHours())}${pad(at.getMinutes())}`
  return `${vmName}-restored-${stamp}`
}

/**
 * Overwriting the original VM is only possible on the host it was backed up from, while that host still has the VM,
 * and once the VM is shut off (Lifeboat never stops a VM to overwrite it).
 */
export function inPlaceBlocker(point: PointSummaryDto, host: HostInventoryDto | undefined): InPlaceBlocker | undefined {
  if (host === undefined || (point.sourceHost.id !== undefined ? host.hostId !== point.sourceHost.id : host.name !== point.sourceHost.name)) return 'otherHost'
  const vm = host.vms.find((v) => v.id === point.vm.id) ?? host.vms.find((v) => v.name === point.vm.name)
  if (vm === undefined) return 'gone'
  if (vm.powerState !== 'halted') return 'running'
  return undefined
}

/** True when the chosen storage says how much is free and that is less than the VM's disks need. */
export function storageShortfall(storage: NonNullable<HostInventoryDto['storage']>, chosen: string, bytesNeeded: number): boolean {
  if (chosen === '') return false
  const entry = storage.find((s) => s.id === chosen)
  return entry?.freeBytes !== undefined && entry.freeBytes < bytesNeeded
}
