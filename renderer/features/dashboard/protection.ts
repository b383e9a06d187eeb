import type { HostInventoryDto, PointSummaryDto } from '../../../engine/api/contract'

export interface VmProtection {
  readonly hostId: string
  readonly hostName: string
  readonly vmId: string
  readonly vmName: string
  /** Finish time of the newest restore point, if any. */
  readonly lastBackup?: string
  readonly stale: boolean
}

/** Every VM the hosts report, with its newest restore point; `stale` when none is newer than `days`. */
export function protection(hosts: readonly HostInventoryDto[], points: readonly PointSummaryDto[], days: number, now: number): VmProtection[] {
  const newest = new Map<string, string>()
  for (const p of points) {
    const current = newest.get(p.vm.id)
    if (current === undefined || p.finishedAt > current) newest.set(p.vm.id, p.finishedAt)
  }
  const limit = now - days * 24 * 3600 * 1000
  return hosts
    .flatMap((h) =>
      h.vms.map((vm) => {
        const last = newest.get(vm.id)
        return { hostId: h.hostId, hostName: h.name, vmId: vm.id, vmName: vm.name, ...(last !== undefined ? { lastBackup: last } : {}), stale: last === undefined || Date.parse(last) < limit }
      }),
    )
    .sort((a, b) => Number(b.stale) - Number(a.stale) || (a.lastBackup ?? '').localeCompare(b.lastBackup ?? '') || a.vmName.localeCompare(b.vmName))
}

/** Lifeboat's "snapshot before patching" snapshots across all VMs, oldest first. */
export function prePatchSnapshots(hosts: readonly HostInventoryDto[]) {
  return hosts
    .flatMap((h) => h.vms.flatMap((vm) => vm.snapshots.filter((s) => s.lifeboat && s.purpose === 'before-patching').map((s) => ({ host: h, vm, snapshot: s }))))
    .sort((a, b) => (a.snapshot.createdAt ?? '').localeCompare(b.snapshot.createdAt ?? ''))
}
