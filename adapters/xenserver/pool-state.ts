import type { Inventory, PowerState, Vm, VmDisk, VmSnapshot } from '../host-adapter'
import { isNullRef } from './xapi-schema-kit'
import type { HostRecord, NetworkRecord, PoolRecord, SMRecord, SRRecord, VBDRecord, VDIRecord, VIFRecord, VMGuestMetricsRecord, VMRecord, PBDRecord } from './xapi-records.generated'
import { isLifeboat, isoTime, purposeOf } from './tags'

/** The classes Lifeboat follows with event.from, with what it keeps of each. */
export interface PoolState {
  pool: Map<string, PoolRecord>
  host: Map<string, HostRecord>
  VM: Map<string, VMRecord>
  VBD: Map<string, VBDRecord>
  VDI: Map<string, VDIRecord>
  SR: Map<string, SRRecord>
  PBD: Map<string, PBDRecord>
  SM: Map<string, SMRecord>
  VIF: Map<string, VIFRecord>
  network: Map<string, NetworkRecord>
  VM_guest_metrics: Map<string, VMGuestMetricsRecord>
}

export const watchedClasses = ['pool', 'host', 'VM', 'VBD', 'VDI', 'SR', 'PBD', 'SM', 'VIF', 'network', 'VM_guest_metrics'] as const
export type WatchedClass = (typeof watchedClasses)[number]

export function emptyState(): PoolState {
  return { pool: new Map(), host: new Map(), VM: new Map(), VBD: new Map(), VDI: new Map(), SR: new Map(), PBD: new Map(), SM: new Map(), VIF: new Map(), network: new Map(), VM_guest_metrics: new Map() }
}

export function powerState(state: string): PowerState {
  switch (state) {
    case 'Running':
      return 'running'
    case 'Halted':
      return 'halted'
    case 'Paused':
      return 'paused'
    case 'Suspended':
      return 'suspended'
    default:
      return 'unknown'
  }
}

/** A VM the admin sees in the tree: not a template, snapshot or control domain. */
export function isGuest(vm: VMRecord): boolean {
  return !vm.is_a_template && !vm.is_a_snapshot && !vm.is_control_domain
}

/** The disks of a VM (VBDs of type Disk with a VDI), in device order. */
export function vmDisks(state: PoolState, vm: VMRecord): { vbdRef: string; vbd: VBDRecord; vdiRef: string; vdi: VDIRecord }[] {
  const out: { vbdRef: string; vbd: VBDRecord; vdiRef: string; vdi: VDIRecord }[] = []
  for (const vbdRef of vm.VBDs) {
    const vbd = state.VBD.get(vbdRef)
    if (vbd === undefined || vbd.type !== 'Disk' || vbd.empty || isNullRef(vbd.VDI)) continue
    const vdi = state.VDI.get(vbd.VDI)
    if (vdi !== undefined) out.push({ vbdRef, vbd, vdiRef: vbd.VDI, vdi })
  }
  return out.sort((a, b) => Number(a.vbd.userdevice) - Number(b.vbd.userdevice) || a.vbd.userdevice.localeCompare(b.vbd.userdevice))
}

/** The device name Xen gives a disk position: 0 → xvda … */
export function deviceName(userdevice: string, index: number): string {
  const n = /^\d{1,2}$/.test(userdevice) ? Number(userdevice) : index
  return n < 26 ? `xvd${String.fromCharCode(97 + n)}` : `disk${n}`
}

function snapshotOf(state: PoolState, ref: string, vm: VMRecord): VmSnapshot[] {
  const out: VmSnapshot[] = []
  for (const s of vm.snapshots) {
    const snap = state.VM.get(s)
    if (snap === undefined || snap.snapshot_of !== ref) continue
    const created = isoTime(snap.snapshot_time)
    const purpose = purposeOf(snap.other_config)
    out.push({ id: snap.uuid, name: snap.name_label, ...(created !== undefined ? { createdAt: created } : {}), lifeboat: isLifeboat(snap.other_config), ...(purpose !== undefined ? { purpose } : {}) })
  }
  return out
}

export function toVm(state: PoolState, ref: string, vm: VMRecord): Vm {
  const resident = isNullRef(vm.resident_on) ? undefined : state.host.get(vm.resident_on)?.name_label
  const gm = isNullRef(vm.guest_metrics) ? undefined : state.VM_guest_metrics.get(vm.guest_metrics)
  const os = gm?.os_version.name
  const disks: VmDisk[] = vmDisks(state, vm).map(({ vdi, vbd }, i) => {
    const sr = state.SR.get(vdi.SR)
    return { id: vdi.uuid, name: `${deviceName(vbd.userdevice, i)}: ${vdi.name_label}`, location: `${sr?.name_label ?? 'SR'}/${vdi.uuid}`, sizeBytes: vdi.virtual_size, format: sr !== undefined && ['ext', 'nfs', 'lvm', 'lvmoiscsi', 'lvmohba', 'smb'].includes(sr.type) ? 'vhd' : 'raw' }
  })
  return {
    id: vm.uuid,
    name: vm.name_label,
    powerState: powerState(vm.power_state),
    ...(resident !== undefined ? { residentOn: resident } : {}),
    cpus: vm.VCPUs_at_startup,
    memoryBytes: vm.memory_static_max,
    ...(os !== undefined && os !== '' ? { os } : {}),
    ...(gm !== undefined ? { guestAgent: gm.PV_drivers_detected && (vm.power_state !== 'Running' || gm.live) } : {}),
    disks,
    snapshots: snapshotOf(state, ref, vm),
  }
}

export function toInventory(state: PoolState): Inventory {
  const pool = [...state.pool.values()][0]
  const master = pool !== undefined ? state.host.get(pool.master) : undefined
  const vms: Vm[] = []
  for (const [ref, vm] of state.VM) if (isGuest(vm)) vms.push(toVm(state, ref, vm))
  vms.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id))
  // Every host of a pool has its own "Local storage": in a pool of several hosts a local SR is named with its host.
  const hostOfLocal = (sr: SRRecord) => (sr.shared || sr.PBDs.length !== 1 ? undefined : state.host.get(state.PBD.get(sr.PBDs[0] ?? '')?.host ?? '')?.name_label)
  const storage = [...state.SR.values()]
    .filter((sr) => sr.content_type !== 'iso' && sr.type !== 'iso' && sr.type !== 'udev')
    .map((sr) => {
      const on = state.host.size > 1 ? hostOfLocal(sr) : undefined
      return { id: sr.uuid, name: on !== undefined ? `${sr.name_label} on ${on}` : sr.name_label, ...(sr.physical_size > 0 ? { sizeBytes: sr.physical_size, freeBytes: Math.max(0, sr.physical_size - sr.physical_utilisation) } : {}) }
    })
  return {
    hostname: pool?.name_label || master?.name_label || master?.hostname || 'XenServer pool',
    hosts: [...state.host.values()].map((h) => ({ id: h.uuid, name: h.name_label })),
    vms,
    storage,
  }
}

export function findVmByUuid(state: PoolState, uuid: string): [string, VMRecord] | undefined {
  for (const [ref, vm] of state.VM) if (vm.uuid === uuid.toLowerCase() || vm.uuid === uuid) return [ref, vm]
  return undefined
}
