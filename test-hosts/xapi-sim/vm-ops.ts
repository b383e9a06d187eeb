import { createHash, randomUUID } from 'node:crypto'
import type { SimCore, TaskControl } from './core'
import { NULL_REF, type XapiValue, text } from './datamodel-values'
import { xapiTime } from './db'
import { fault } from './errors'
import { SimGuests, type ConsoleScreen } from './guest'
import type { VdiOps } from './vdi-ops'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * The MAC address VIF.create gives a VIF created without one, as xapi_vif_helpers.ml `gen_mac` does: a function of
 * the VM's other_config mac_seed and the device number only (MD5 hashed repeatedly; locally administered, unicast).
 */
export function macFromSeed(seed: string, device: number): string {
  let h = Buffer.from(seed, 'latin1')
  for (let i = 0; i <= device * 2; i++) h = createHash('md5').update(h).digest()
  const second = createHash('md5').update(h).digest()
  const b = [((h[0] ?? 0) & 0xfe) | 0x02, h[1] ?? 0, h[2] ?? 0, h[3] ?? 0, second[1] ?? 0, second[2] ?? 0]
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':')
}

/** Fields a snapshot or an imported VM copies from its source (everything but identity and relations). */
const NOT_COPIED = new Set(['uuid', 'VBDs', 'VIFs', 'snapshots', 'snapshot_of', 'is_a_snapshot', 'snapshot_time', 'power_state', 'resident_on', 'allowed_operations', 'current_operations', 'domid', 'metrics', 'guest_metrics', 'consoles', 'children', 'parent', 'suspend_VDI', 'crash_dumps', 'VUSBs', 'VTPMs', 'VGPUs', 'attached_PCIs', 'scheduled_to_be_resident_on', 'groups'])

/** VMs: the power-state machine, snapshots and checkpoints, revert, create and destroy. */
export class VmOps {
  private readonly guests: SimGuests

  constructor(
    private readonly core: SimCore,
    private readonly vdis: VdiOps,
  ) {
    this.guests = new SimGuests(core)
  }

  private get db() {
    return this.core.db
  }

  private nameOf(vm: string): string {
    return text(this.db.get('VM', vm).name_label)
  }

  async start(vm: string, task?: TaskControl): Promise<void> {
    this.core.assertAllowed('VM', vm, 'start')
    this.core.assertPower(vm, 'Halted')
    await sleep(30)
    task?.checkCancelled()
    this.core.setPower(vm, 'Running')
    // A VM with guest metrics already stands for an installed guest seeded by the simulator (addVm); any other VM
    // gets them only once its guest has booted (guest.ts).
    if (this.db.get('VM', vm).guest_metrics === NULL_REF) await this.guests.poweredOn(vm)
    else this.setGuestMetrics(vm, true)
  }

  async cleanShutdown(vm: string, task?: TaskControl): Promise<void> {
    this.core.assertAllowed('VM', vm, 'clean_shutdown')
    this.core.assertPower(vm, 'Running')
    if (this.core.faults.ignoreShutdown.has(this.nameOf(vm))) {
      // The guest ignores the request: XAPI keeps waiting until the task is cancelled.
      if (!task) await new Promise(() => undefined)
      await task?.cancelled
      task?.checkCancelled()
    }
    await sleep(50)
    task?.checkCancelled()
    this.guests.stop(vm)
    this.core.setPower(vm, 'Halted')
    this.setGuestMetrics(vm, false)
  }

  async hardShutdown(vm: string): Promise<void> {
    this.core.assertAllowed('VM', vm, 'hard_shutdown')
    const record = this.db.get('VM', vm)
    if (record.power_state === 'Halted') throw fault('VM_BAD_POWER_STATE', vm, 'running', 'halted')
    await sleep(10)
    await this.dropSuspendImage(vm)
    this.guests.stop(vm)
    this.core.setPower(vm, 'Halted')
    this.setGuestMetrics(vm, false)
  }

  async suspend(vm: string, task?: TaskControl): Promise<void> {
    this.core.assertAllowed('VM', vm, 'suspend')
    const record = this.core.assertPower(vm, 'Running')
    const image = await this.memoryImage(record)
    task?.progress(0.5)
    await sleep(30)
    this.db.set('VM', vm, { suspend_VDI: image })
    this.guests.stop(vm)
    this.core.setPower(vm, 'Suspended')
    this.setGuestMetrics(vm, false)
  }

  async resume(vm: string): Promise<void> {
    this.core.assertAllowed('VM', vm, 'resume')
    this.core.assertPower(vm, 'Suspended')
    await sleep(30)
    await this.dropSuspendImage(vm)
    this.core.setPower(vm, 'Running')
    this.setGuestMetrics(vm, true)
  }

  pause(vm: string): void {
    this.core.assertPower(vm, 'Running')
    this.core.setPower(vm, 'Paused')
  }

  unpause(vm: string): void {
    this.core.assertPower(vm, 'Paused')
    this.core.setPower(vm, 'Running')
  }

  private async memoryImage(record: Record<string, XapiValue>): Promise<string> {
    const sr = this.core.db.get('pool', this.core.poolRef).default_SR as string
    return await this.vdis.create({ SR: sr, virtual_size: Math.min(Number(record.memory_static_max), 64 * 1024 * 1024), type: 'suspend', name_label: `Suspend image for ${text(record.name_label)}` })
  }

  private async dropSuspendImage(vm: string): Promise<void> {
    const image = this.db.get('VM', vm).suspend_VDI as string
    if (image !== NULL_REF && this.db.has('VDI', image)) await this.vdis.destroy(image)
    this.db.set('VM', vm, { suspend_VDI: NULL_REF })
  }

  /** What the VM's VNC console shows now (see SimGuests.screen). */
  consoleScreen(vm: string): Promise<ConsoleScreen> {
    return this.guests.screen(vm)
  }

  setGuestMetrics(vm: string, live: boolean): void {
    const gm = this.db.get('VM', vm).guest_metrics as string
    if (gm !== NULL_REF && this.db.has('VM_guest_metrics', gm)) this.db.set('VM_guest_metrics', gm, { live, last_updated: xapiTime() })
  }

  /** VM.snapshot and VM.checkpoint: a snapshot VM whose disks are snapshots of the VM's disks. */
  async snapshot(vm: string, name: string, options: { memory: boolean; ignore?: readonly string[]; task?: TaskControl }): Promise<string> {
    this.core.assertAllowed('VM', vm, options.memory ? 'checkpoint' : 'snapshot')
    const record = this.db.get('VM', vm)
    if (record.is_a_snapshot === true) throw fault('OPERATION_NOT_ALLOWED', 'A snapshot cannot be snapshotted.')
    if (options.memory) {
      if (record.power_state !== 'Running') throw fault('VM_BAD_POWER_STATE', vm, 'running', text(record.power_state).toLowerCase())
      if (this.core.faults.checkpointFails) throw fault('VM_CHECKPOINT_SUSPEND_FAILED', vm)
    }
    const copy: Record<string, XapiValue> = {}
    for (const [k, v] of Object.entries(record)) if (!NOT_COPIED.has(k)) copy[k] = v
    const snap = this.db.add('VM', {
      ...copy,
      name_label: name,
      is_a_snapshot: true,
      // Snapshots are templates on a pool (xapi_vm_clone.ml makes the snapshot record with is_a_template true).
      is_a_template: true,
      snapshot_of: vm,
      snapshot_time: xapiTime(),
      power_state: options.memory ? 'Suspended' : 'Halted',
      allowed_operations: ['clone', 'copy', 'revert', 'destroy', 'export'],
      other_config: { ...(record.other_config as Record<string, string>) },
      // The keys xapi_vm_clone.ml writes (power_state_at_snapshot = "power-state-at-snapshot", disk_snapshot_type).
      snapshot_info: { 'power-state-at-snapshot': text(record.power_state), 'disk-snapshot-type': 'crash_consistent' },
    })
    try {
      const vbds = record.VBDs as string[]
      for (const [i, vbd] of vbds.entries()) {
        options.task?.checkCancelled()
        const b = this.db.get('VBD', vbd)
        const vdi = b.VDI as string
        let target = NULL_REF
        if (b.empty !== true && vdi !== NULL_REF && !(options.ignore ?? []).includes(vdi)) target = await this.vdis.snapshot(vdi)
        if (b.empty !== true && target === NULL_REF) continue
        this.createVbd({ VM: snap, VDI: target, userdevice: b.userdevice as string, device: b.device as string, bootable: b.bootable as boolean, mode: b.mode as string, type: b.type as string, empty: target === NULL_REF, other_config: b.other_config as Record<string, string> })
        options.task?.progress((i + 1) / (vbds.length + 1))
      }
      for (const vif of record.VIFs as string[]) {
        const v = this.db.get('VIF', vif)
        this.createVif({ VM: snap, network: v.network as string, device: v.device as string, MAC: v.MAC as string, MTU: v.MTU as number, other_config: v.other_config as Record<string, string> })
      }
      if (options.memory) this.db.set('VM', snap, { suspend_VDI: await this.memoryImage(record) })
    } catch (err) {
      // XAPI rolls a failed or cancelled snapshot back whole: the disk snapshots made so far go with the VM record.
      const made = (this.db.get('VM', snap).VBDs as string[]).map((b) => this.db.find('VBD', b)?.VDI as string | undefined)
      await this.destroy(snap, true).catch(() => undefined)
      for (const vdi of made) if (vdi !== undefined && vdi !== NULL_REF && this.db.has('VDI', vdi)) await this.vdis.destroy(vdi).catch(() => undefined)
      throw err
    }
    this.db.addTo('VM', vm, 'snapshots', snap)
    return snap
  }

  /** VM.revert: the VM's disks are replaced by copies of the snapshot's; power state as the snapshot was taken. */
  async revert(snapshot: string): Promise<void> {
    const snap = this.db.get('VM', snapshot)
    if (snap.is_a_snapshot !== true) throw fault('VM_REVERT_FAILED', snapshot, 'not a snapshot')
    const vm = snap.snapshot_of as string
    if (!this.db.has('VM', vm)) throw fault('VM_REVERT_FAILED', snapshot, 'the snapshot has no VM any more')
    const record = this.db.get('VM', vm)
    if (record.power_state !== 'Halted') await this.hardShutdown(vm)
    for (const vbd of [...(record.VBDs as string[])]) {
      const b = this.db.get('VBD', vbd)
      const old = b.VDI as string
      const match = (snap.VBDs as string[]).map((s) => this.db.get('VBD', s)).find((s) => s.userdevice === b.userdevice)
      if (b.empty === true || match === undefined || match.VDI === NULL_REF) continue
      const fresh = await this.vdis.clone(match.VDI as string)
      this.db.set('VBD', vbd, { VDI: fresh })
      this.db.addTo('VDI', fresh, 'VBDs', vbd)
      this.db.removeFrom('VDI', old, 'VBDs', vbd)
      for (const s of this.db.get('VDI', old).snapshots as string[]) {
        this.db.set('VDI', s, { snapshot_of: fresh })
        this.db.addTo('VDI', fresh, 'snapshots', s)
      }
      this.db.set('VDI', old, { snapshots: [] })
      await this.vdis.destroy(old)
    }
    if (snap.power_state === 'Suspended' && snap.suspend_VDI !== NULL_REF) {
      this.db.set('VM', vm, { suspend_VDI: await this.vdis.clone(snap.suspend_VDI as string) })
      this.core.setPower(vm, 'Suspended')
    } else this.core.setPower(vm, 'Halted')
  }

  async destroy(vm: string, force = false): Promise<void> {
    const record = this.db.get('VM', vm)
    if (!force && record.is_a_snapshot !== true && record.power_state !== 'Halted') throw fault('VM_BAD_POWER_STATE', vm, 'halted', text(record.power_state).toLowerCase())
    this.guests.stop(vm)
    this.core.dropConsoles(vm)
    for (const vbd of record.VBDs as string[]) {
      const b = this.db.find('VBD', vbd)
      if (b) this.db.removeFrom('VDI', b.VDI as string, 'VBDs', vbd)
      this.db.delete('VBD', vbd)
    }
    for (const vif of record.VIFs as string[]) {
      const v = this.db.find('VIF', vif)
      if (v) this.db.removeFrom('network', v.network as string, 'VIFs', vif)
      this.db.delete('VIF', vif)
    }
    const suspend = record.suspend_VDI as string
    if (suspend !== NULL_REF && this.db.has('VDI', suspend)) await this.vdis.destroy(suspend)
    for (const child of ['guest_metrics', 'metrics'] as const) {
      const ref = record[child] as string
      if (ref !== NULL_REF) this.db.delete(child === 'metrics' ? 'VM_metrics' : 'VM_guest_metrics', ref)
    }
    const of = record.snapshot_of as string
    if (of !== NULL_REF) this.db.removeFrom('VM', of, 'snapshots', vm)
    for (const s of record.snapshots as string[]) if (this.db.has('VM', s)) this.db.set('VM', s, { snapshot_of: NULL_REF })
    if ((record.resident_on as string) !== NULL_REF) this.db.removeFrom('host', record.resident_on as string, 'resident_VMs', vm)
    this.db.delete('VM', vm)
  }

  create(args: Readonly<Record<string, XapiValue>>): string {
    const allowed = new Set(this.db.model.classOf('VM').fields.filter((f) => f.qualifier !== 'RO/runtime').map((f) => f.name))
    const values: Record<string, XapiValue> = {}
    for (const [k, v] of Object.entries(args)) if (allowed.has(k)) values[k] = v
    // As xapi_vm.ml `create`: a VM without a mac_seed in other_config gets a random one; VIF.create without a MAC
    // derives the address from it (see macFromSeed), so a VM created with a copied seed gets the same MACs.
    const other = (values.other_config as Record<string, string> | undefined) ?? {}
    values.other_config = other.mac_seed === undefined ? { ...other, mac_seed: randomUUID() } : other
    // A VM created Suspended needs the memory image to resume from; XAPI refuses one without (VM_BAD_POWER_STATE).
    const suspendVdi = text(values.suspend_VDI, NULL_REF)
    if (values.power_state === 'Suspended' && (suspendVdi === NULL_REF || !this.db.has('VDI', suspendVdi))) throw fault('VM_BAD_POWER_STATE', NULL_REF, 'halted', 'suspended')
    const power = values.power_state === 'Suspended' ? 'Suspended' : 'Halted'
    const metrics = this.db.add('VM_metrics', { memory_actual: Number(values.memory_static_max ?? 0), VCPUs_number: Number(values.VCPUs_at_startup ?? 1), state: [], start_time: xapiTime(), install_time: xapiTime(), last_updated: xapiTime() })
    const vm = this.db.add('VM', { ...values, power_state: power, metrics, resident_on: NULL_REF, allowed_operations: this.core.allowedOps(power), domid: -1, VBDs: [], VIFs: [], snapshots: [], children: [], consoles: [] })
    return vm
  }

  createVbd(args: Readonly<Record<string, XapiValue>>): string {
    const vm = text(args.VM)
    const vmRecord = this.db.get('VM', vm)
    const vdi = text(args.VDI, NULL_REF)
    if (vdi !== NULL_REF) this.db.get('VDI', vdi)
    let userdevice = text(args.userdevice, 'autodetect')
    const used = new Set((vmRecord.VBDs as string[]).map((b) => text(this.db.get('VBD', b).userdevice)))
    if (userdevice === 'autodetect') {
      let n = 0
      while (used.has(String(n))) n++
      userdevice = String(n)
    } else if (used.has(userdevice)) throw fault('OPERATION_NOT_ALLOWED', `VBD userdevice ${userdevice} is already in use`)
    const ref = this.db.add('VBD', {
      VM: vm,
      VDI: vdi,
      device: text(args.device, ''),
      userdevice,
      bootable: args.bootable === true,
      mode: text(args.mode, 'RW'),
      type: text(args.type, 'Disk'),
      unpluggable: args.unpluggable !== false,
      storage_lock: false,
      empty: args.empty === true,
      other_config: (args.other_config as Record<string, string> | undefined) ?? {},
      currently_attached: false,
      status_code: 0,
      status_detail: '',
      runtime_properties: {},
      qos_algorithm_type: text(args.qos_algorithm_type, ''),
      qos_algorithm_params: (args.qos_algorithm_params as Record<string, string> | undefined) ?? {},
      qos_supported_algorithms: [],
      allowed_operations: ['attach', 'plug', 'unplug', 'insert', 'eject'],
    })
    this.db.addTo('VM', vm, 'VBDs', ref)
    if (vdi !== NULL_REF) this.db.addTo('VDI', vdi, 'VBDs', ref)
    return ref
  }

  destroyVbd(ref: string): void {
    const b = this.db.get('VBD', ref)
    if (b.currently_attached === true) throw fault('OPERATION_NOT_ALLOWED', 'The VBD is attached; unplug it first.')
    this.db.removeFrom('VM', b.VM as string, 'VBDs', ref)
    if (b.VDI !== NULL_REF) this.db.removeFrom('VDI', b.VDI as string, 'VBDs', ref)
    this.db.delete('VBD', ref)
  }

  plugVbd(ref: string): void {
    const b = this.db.get('VBD', ref)
    const vm = this.db.get('VM', b.VM as string)
    if (vm.power_state !== 'Running') throw fault('VM_BAD_POWER_STATE', b.VM as string, 'running', text(vm.power_state).toLowerCase())
    if (b.currently_attached === true) throw fault('OPERATION_NOT_ALLOWED', 'The VBD is already attached.')
    this.db.set('VBD', ref, { currently_attached: true })
  }

  unplugVbd(ref: string): void {
    const b = this.db.get('VBD', ref)
    if (b.currently_attached !== true) throw fault('DEVICE_ALREADY_DETACHED', ref)
    this.db.set('VBD', ref, { currently_attached: false })
  }

  createVif(args: Readonly<Record<string, XapiValue>>): string {
    const vm = text(args.VM)
    this.db.get('VM', vm)
    const network = text(args.network)
    this.db.get('network', network)
    const given = text(args.MAC, '')
    const device = text(args.device, '0')
    const seed = (this.db.get('VM', vm).other_config as Record<string, string>).mac_seed
    const ref = this.db.add('VIF', {
      device,
      network,
      VM: vm,
      MAC: given !== '' ? given : seed !== undefined && /^\d+$/.test(device) ? macFromSeed(seed, Number(device)) : this.core.newMac(),
      MAC_autogenerated: given === '',
      MTU: Number(args.MTU ?? 1500),
      other_config: (args.other_config as Record<string, string> | undefined) ?? {},
      currently_attached: false,
      status_code: 0,
      status_detail: '',
      runtime_properties: {},
      qos_algorithm_type: text(args.qos_algorithm_type, ''),
      qos_algorithm_params: (args.qos_algorithm_params as Record<string, string> | undefined) ?? {},
      qos_supported_algorithms: [],
      locking_mode: text(args.locking_mode, 'network_default'),
      allowed_operations: ['attach', 'plug', 'unplug'],
    })
    this.db.addTo('VM', vm, 'VIFs', ref)
    this.db.addTo('network', network, 'VIFs', ref)
    return ref
  }

  destroyVif(ref: string): void {
    const v = this.db.get('VIF', ref)
    this.db.removeFrom('VM', v.VM as string, 'VIFs', ref)
    this.db.removeFrom('network', v.network as string, 'VIFs', ref)
    this.db.delete('VIF', ref)
  }
}
