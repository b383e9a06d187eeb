import { z } from 'zod'
import {
  AdapterError,
  throwIfAborted,
  type DiskRestoreRequest,
  type DiskRestoreResult,
  type BlockSource,
  type RestoreCapability,
  type RestoreRequest,
  type RestoreResult,
} from '../host-adapter'
import { loadState } from './live-inventory'
import { isGuest, vmDisks, type PoolState } from './pool-state'
import { TAG, tags, withoutTags } from './tags'
import { persistently } from '../cleanup-retry'
import { planVhd, rawStream } from './vhd-writer'
import type { XapiClient } from './xapi-client'
import { destroyQuietly, refByUuid, setOtherConfig } from './xapi-objects'
import { vmConstructorFields, VMRecord } from './xapi-records.generated'
import { NULL_REF, isNullRef } from './xapi-schema-kit'
import { createTask, madeAnyway, runTask, runTaskForRef, waitForTask } from './xapi-tasks'
import { withUndo, type UndoHandle } from '../undo-stack'

const Ref = z.string().regex(/^OpaqueRef:[A-Za-z0-9-]{1,64}$/)

/** The part of a saved XAPI VM configuration a restore uses (anything else in it is ignored). */
const SavedConfig = z.object({
  kind: z.literal('xapi'),
  vm: z.record(z.string().max(200), z.unknown()),
  disks: z
    .array(
      z.object({
        userdevice: z.string().max(16),
        bootable: z.boolean(),
        mode: z.string().max(8),
        vdi: z.object({ uuid: z.string().max(64), name_label: z.string().max(4096), name_description: z.string().max(65536) }).nullable(),
        sr: z.object({ uuid: z.string().max(64), name: z.string().max(4096) }).nullable(),
      }),
    )
    .max(256),
  vifs: z
    .array(z.object({ device: z.string().max(16), MTU: z.number().int().min(68).max(65535), network: z.object({ uuid: z.string().max(64), name: z.string().max(4096) }).nullable() }))
    .max(64),
})

const DiskMeta = z.object({ userdevice: z.string().max(16).optional(), bootable: z.boolean().optional(), mode: z.string().max(8).optional(), name: z.string().max(4096).optional(), sr: z.object({ uuid: z.string().max(64) }).nullable().optional() }).partial()

/** Fields of a VM record that point at objects of the old pool: a new VM must not carry them. */
const POOL_BOUND = new Set(['affinity', 'suspend_SR', 'suspend_VDI', 'protection_policy', 'snapshot_schedule', 'appliance', 'VGPUs', 'attached_PCIs', 'groups', 'parent', 'children', 'metrics', 'guest_metrics', 'resident_on', 'consoles'])

function vmArgs(saved: Record<string, unknown> | undefined, name: string, restoredFrom: string, marks: Readonly<Record<string, string>> = {}): Record<string, unknown> {
  const args: Record<string, unknown> = {}
  for (const field of vmConstructorFields) {
    const v = saved?.[field]
    if (v === undefined || POOL_BOUND.has(field)) continue
    if (typeof v === 'string' && v.startsWith('OpaqueRef:')) continue
    args[field] = v
  }
  const other = saved?.other_config !== null && typeof saved?.other_config === 'object' ? (saved.other_config as Record<string, string>) : {}
  return {
    // A VM from another kind of host: sensible HVM defaults; the saved values above win where they exist.
    name_description: '',
    user_version: 1,
    memory_static_max: 2 * 1024 ** 3,
    memory_dynamic_max: 2 * 1024 ** 3,
    memory_dynamic_min: 2 * 1024 ** 3,
    memory_static_min: 512 * 1024 ** 2,
    VCPUs_params: {},
    VCPUs_max: 2,
    VCPUs_at_startup: 2,
    actions_after_shutdown: 'destroy',
    actions_after_reboot: 'restart',
    actions_after_crash: 'restart',
    PV_bootloader: '',
    PV_kernel: '',
    PV_ramdisk: '',
    PV_args: '',
    PV_bootloader_args: '',
    PV_legacy_args: '',
    HVM_boot_policy: 'BIOS order',
    HVM_boot_params: { order: 'cd' },
    platform: { acpi: '1', apic: 'true', pae: 'true', nx: 'true', viridian: 'false' },
    PCI_bus: '',
    recommendations: '',
    domain_type: 'hvm',
    ...args,
    // Whatever state the original was saved in, the new VM starts Halted: a Suspended one would need its memory
    // image (suspend_VDI), and XAPI refuses VM.create without it (VM_BAD_POWER_STATE). A snapshot's record is a
    // template; the new VM is not.
    power_state: 'Halted',
    is_a_template: false,
    name_label: name,
    // Without the original's mac_seed: VIF.create derives an empty MAC from it (xapi_vif_helpers.ml gen_mac), so the
    // copy would get the original's addresses. VM.create makes a new seed.
    other_config: { ...withoutSeed(withoutTags(other)), [TAG.restoredFrom]: restoredFrom, ...marks },
    affinity: NULL_REF,
  }
}

function withoutSeed(other: Record<string, string>): Record<string, string> {
  const { mac_seed: _seed, ...rest } = other
  return rest
}

function findSr(state: PoolState, wanted: string | undefined, fallback: string | undefined): { ref: string; name: string } {
  const pool = [...state.pool.values()][0]
  const byKey = (key: string) => [...state.SR].find(([, sr]) => sr.uuid === key || sr.name_label === key)
  if (wanted !== undefined) {
    const matches = [...state.SR].filter(([, sr]) => sr.uuid === wanted || sr.name_label === wanted)
    if (matches.length > 1) throw new AdapterError('NOT_FOUND', `Several storage repositories are named "${wanted}"; give its uuid.`)
    const m = matches[0]
    if (m === undefined) throw new AdapterError('NOT_FOUND', `The pool has no storage repository "${wanted}".`, { sr: wanted })
    return { ref: m[0], name: m[1].name_label }
  }
  const found = (fallback !== undefined ? byKey(fallback) : undefined) ?? (pool !== undefined && !isNullRef(pool.default_SR) ? [pool.default_SR, state.SR.get(pool.default_SR)] as const : undefined)
  if (found === undefined || found[1] === undefined) throw new AdapterError('NOT_FOUND', 'The pool has no default storage repository; choose one.')
  return { ref: found[0], name: found[1].name_label }
}

function findNetwork(state: PoolState, saved: { uuid: string; name: string } | null): string | undefined {
  const nets = [...state.network].filter(([, n]) => n.managed)
  const match = saved === null ? undefined : (nets.find(([, n]) => n.uuid === saved.uuid) ?? nets.find(([, n]) => n.name_label === saved.name))
  return (match ?? nets.find(([, n]) => n.bridge.startsWith('xenbr')) ?? nets[0])?.[0]
}

/**
 * Writes a disk's bytes into a VDI with /import_raw_vdi: as a sparse VHD when the zero ranges are known and the VDI
 * is new, else raw. vhd-tool writes only the blocks a VHD holds and assumes the rest of the target is already zero
 * (xen-api ocaml/vhd-tool/src/impl.ml, serve_vhd_to_raw; a raw upload goes through serve_raw_to_raw, which writes
 * every byte): over a VDI that holds data (`fresh: false`, restore in place) a sparse VHD would leave the old bytes
 * wherever the restore point is zero.
 */
export async function importDisk(client: XapiClient, vdiRef: string, source: BlockSource, progress: (done: number, total: number) => void, signal: AbortSignal, options: { fresh: boolean; host?: string }): Promise<void> {
  const { host } = options
  const plan = options.fresh ? await planVhd(source, signal) : undefined
  const task = await createTask(client, `Lifeboat: restore ${source.label}`)
  const onAbort = () => void client.call('task.cancel', [task]).catch(() => undefined)
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    let sent = 0
    const total = plan?.length ?? source.size
    const counted = async function* (it: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
      sent = 0
      for await (const b of it) {
        sent += b.length
        progress(sent, total)
        yield b
      }
    }
    await client.http.put('/import_raw_vdi', {
      query: { vdi: vdiRef, format: plan ? 'vhd' : 'raw', task_id: task },
      signal,
      length: total,
      body: () => counted(plan ? plan.stream(signal) : rawStream(source, signal)),
      ...(host !== undefined ? { host } : {}),
    })
    await waitForTask(client, task, 'the disk import', { signal })
  } finally {
    signal.removeEventListener('abort', onAbort)
    await client.call('task.destroy', [task]).catch(() => undefined)
  }
}

/** Not interrupted half-way (a cancelled call may still create the VDI): the caller registers its removal, then checks. */
async function createVdi(client: XapiClient, sr: string, name: string, description: string, size: number, other: Record<string, string>): Promise<string> {
  const ref = Ref.safeParse(await client.call('VDI.create', [{ name_label: name, name_description: description, SR: sr, virtual_size: size, type: 'user', sharable: false, read_only: false, other_config: other, xenstore_data: {}, sm_config: {}, tags: [] }]))
  if (!ref.success) throw new AdapterError('BAD_RESPONSE', 'The pool did not say which VDI it created.')
  return ref.data
}

async function findVm(client: XapiClient, state: PoolState, idOrName: string, signal: AbortSignal): Promise<string> {
  if (/^[0-9a-f-]{36}$/i.test(idOrName)) return await refByUuid(client, 'VM', idOrName, signal)
  const matches = [...state.VM].filter(([, vm]) => isGuest(vm) && vm.name_label === idOrName)
  if (matches.length > 1) throw new AdapterError('NOT_FOUND', `The pool has ${matches.length} VMs named "${idOrName}"; give its uuid.`)
  const m = matches[0]
  if (m === undefined) throw new AdapterError('NOT_FOUND', `The pool has no VM "${idOrName}".`)
  return m[0]
}

/** How a flow built on a restore (a health check) wants the new VM: marked from its creation, without a network. */
export interface RestoreVmOptions {
  /** Set in other_config of the VM and of each VDI when they are created, so a crash right after leaves them findable. */
  readonly marks?: Readonly<Record<string, string>>
  /** False: no network interfaces at all (the saved ones are left out). */
  readonly network?: boolean
}

/**
 * Restores onto a pool: a restore point as a new VM (VDIs created on the chosen SR, bytes through /import_raw_vdi,
 * the VM record from the saved configuration, new MAC addresses, started if asked), the disks of a stopped VM
 * overwritten in place, or one disk attached to an existing VM. What a failed restore created is removed again.
 */
export class XapiRestore implements RestoreCapability {
  constructor(private readonly client: (signal: AbortSignal) => Promise<XapiClient>) {}

  async restoreVm(request: RestoreRequest, signal: AbortSignal, options: RestoreVmOptions = {}): Promise<RestoreResult> {
    const marks = options.marks ?? {}
    const client = await this.client(signal)
    const { state } = await loadState(client, signal)
    if (request.inPlace) return await this.inPlace(client, state, request, signal)
    const parsed = SavedConfig.safeParse(request.vmConfig)
    const saved = parsed.success ? parsed.data : undefined
    if (!saved) request.log('warn', 'The restore point was not made from a XenServer/XCP-ng pool; the new VM gets default settings (2 vCPUs, 2 GiB, BIOS boot) and its disks in their order.')
    const total = request.disks.reduce((s, d) => s + d.size, 0)
    let before = 0
    // Each object the restore creates registers its removal right after: a failure or cancel removes exactly those.
    // Creating calls are not interrupted half-way (the pool would still create what Lifeboat no longer knows about).
    return await withUndo(signal, async (undo) => {
      request.phase('creating the VM', request.name)
      const args = vmArgs(saved?.vm, request.name, typeof saved?.vm.uuid === 'string' ? saved.vm.uuid : 'another host', marks)
      const vmRef = Ref.parse(await client.call('VM.create', [args]))
      undo.push(`remove the half-restored VM ${request.name}`, (s) => destroyQuietly(client, 'VM', vmRef, s))
      throwIfAborted(signal, 'The restore')
      const out: RestoreResult['disks'][number][] = []
      for (const [i, d] of request.disks.entries()) {
        const meta = DiskMeta.safeParse(d.meta ?? {})
        const m = meta.success ? meta.data : {}
        const savedDisk = saved?.disks.find((x) => x.vdi !== null && x.userdevice === m.userdevice) ?? saved?.disks[i]
        const sr = findSr(state, request.storageDir, savedDisk?.sr?.uuid ?? m.sr?.uuid ?? undefined)
        const name = savedDisk?.vdi?.name_label ?? m.name ?? d.name
        request.phase('creating disks', `${d.name} on ${sr.name}`)
        const vdi = await createVdi(client, sr.ref, name, savedDisk?.vdi?.name_description ?? '', d.size, { [TAG.restoredFrom]: savedDisk?.vdi?.uuid ?? d.name, ...marks })
        undo.push(`remove the half-written disk ${d.name}`, (s) => destroyQuietly(client, 'VDI', vdi, s))
        request.phase('writing disks', d.name)
        const offset = before
        await importDisk(client, vdi, d.source, (done, all) => request.progress(offset + Math.round((done / Math.max(1, all)) * d.size), total, d.name), signal, { fresh: true })
        before += d.size
        const vbd = Ref.parse(await client.call('VBD.create', [{ VM: vmRef, VDI: vdi, userdevice: savedDisk?.userdevice ?? m.userdevice ?? String(i), bootable: savedDisk?.bootable ?? m.bootable ?? i === 0, mode: 'RW', type: 'Disk', empty: false, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {}, unpluggable: true }]))
        undo.push(`detach the half-written disk ${d.name}`, (s) => destroyQuietly(client, 'VBD', vbd, s))
        throwIfAborted(signal, 'The restore')
        out.push({ name: d.name, path: `${sr.name}/${String(await client.call('VDI.get_uuid', [vdi], signal))}`, format: 'vdi' })
      }
      const vifs = options.network === false ? [] : (saved?.vifs ?? [{ device: '0', MTU: 1500, network: null }])
      if (options.network === false && (saved?.vifs.length ?? 0) > 0) request.log('info', `The VM has no network: ${saved?.vifs.length ?? 0} network interface(s) of the original were left out.`)
      for (const v of vifs) {
        const network = findNetwork(state, v.network)
        if (network === undefined) {
          request.log('warn', `No network for interface ${v.device}; the VM has no network interface for it.`)
          continue
        }
        // MAC '' lets the pool choose a new address, so the copy never clashes with the original VM. VM.destroy
        // removes the VM's interfaces with it.
        await client.call('VIF.create', [{ device: v.device, network, VM: vmRef, MAC: '', MTU: v.MTU, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {}, locking_mode: 'network_default', ipv4_allowed: [], ipv6_allowed: [] }])
        throwIfAborted(signal, 'The restore')
      }
      let started = false
      if (request.start) {
        request.phase('starting', request.name)
        // Registered before: a start Lifeboat cancelled may still complete on the pool.
        undo.push(`shut the half-restored VM ${request.name} down`, async (s) => {
          if (String(await client.call('VM.get_power_state', [vmRef], s)) !== 'Halted') await runTask(client, 'VM.hard_shutdown', [vmRef], { signal: s })
        })
        await runTask(client, 'VM.start', [vmRef, false, false], { signal })
        started = true
      }
      const uuid = await client.call('VM.get_uuid', [vmRef], signal)
      return { vmId: String(uuid), name: request.name, disks: out, started, leftBehind: [] }
    })
  }

  /**
   * Overwrites the disks of a stopped VM. Before the first byte is written each target disk gets a safety copy
   * (VDI.snapshot, tagged like a backup's so a crash leaves it findable): a failed or cancelled restore copies it back
   * into the disk (VDI.copy into_vdi), so the VM keeps its disks and their content; a finished one drops the copies.
   * Should a copy-back fail, the error says which disk and keeps its safety copy, with the command that puts it back.
   */
  private async inPlace(client: XapiClient, state: PoolState, request: RestoreRequest, signal: AbortSignal): Promise<RestoreResult> {
    const vmRef = await findVm(client, state, request.name, signal)
    const vm = await client.record('VM', vmRef, VMRecord, signal)
    if (vm.power_state !== 'Halted') throw new AdapterError('NOT_SUPPORTED', `${vm.name_label} must be shut down before its disks are overwritten.`)
    const disks = vmDisks(state, vm)
    // Every disk is checked before any is touched: a mismatch on the second must not come after the first is overwritten.
    const plan = request.disks.map((d, i) => {
      const meta = DiskMeta.safeParse(d.meta ?? {})
      const target = disks.find((x) => meta.success && x.vbd.userdevice === meta.data.userdevice) ?? disks[i]
      if (target === undefined) throw new AdapterError('NOT_FOUND', `${vm.name_label} has no disk for ${d.name}.`)
      if (target.vdi.virtual_size !== d.size) throw new AdapterError('NOT_SUPPORTED', `${d.name} is ${d.size} bytes but ${vm.name_label}'s disk ${target.vbd.userdevice} is ${target.vdi.virtual_size}; restore as a new VM instead.`)
      return { d, target, label: `disk ${target.vbd.userdevice} (${target.vdi.name_label}) of ${vm.name_label}` }
    })
    const total = request.disks.reduce((s, d) => s + d.size, 0)
    return await withUndo(signal, async (undo) => {
      const marks = { ...tags('backup', { job: 'restore-in-place', vm: vm.uuid }), [TAG.heartbeat]: new Date().toISOString() }
      const copies: { ref: string; uuid: string; kept: UndoHandle }[] = []
      for (const { target, label } of plan) {
        request.phase('keeping a safety copy', label)
        const register = (ref: string) => undo.push(`remove the safety copy of ${label}`, persistently((s) => destroyQuietly(client, 'VDI', ref, s)))
        let ref: string
        try {
          ref = await runTaskForRef(client, 'VDI.snapshot', [target.vdiRef, {}], { signal })
        } catch (err) {
          const orphan = madeAnyway(err)
          if (orphan !== undefined) register(orphan)
          throw err
        }
        const kept = register(ref)
        await setOtherConfig(client, 'VDI', ref, { ...marks, [TAG.disk]: target.vdi.uuid }, signal)
        copies.push({ ref, uuid: String(await client.call('VDI.get_uuid', [ref], signal)), kept })
      }
      const heartbeat = setInterval(() => {
        const beat = AbortSignal.timeout(30_000)
        // A missed heartbeat only makes a safety copy look stale sooner; the restore goes on.
        void (async () => {
          for (const c of copies) await setOtherConfig(client, 'VDI', c.ref, { [TAG.heartbeat]: new Date().toISOString() }, beat)
        })().catch(() => undefined)
      }, 60_000)
      heartbeat.unref()
      undo.push('stop the heartbeat', () => clearInterval(heartbeat))
      const out: RestoreResult['disks'][number][] = []
      const putBack: UndoHandle[] = []
      let before = 0
      for (const [i, { d, target, label }] of plan.entries()) {
        const copy = copies[i]
        if (copy === undefined) throw new AdapterError('BAD_RESPONSE', `No safety copy of ${label}.`)
        // Registered before the first byte: a write that failed half-way has already changed the disk.
        putBack.push(
          undo.push(`put the original content back into ${label}`, async (s) => {
            try {
              await runTask(client, 'VDI.copy', [copy.ref, NULL_REF, NULL_REF, target.vdiRef], { signal: s })
            } catch (err) {
              copy.kept.replace(() => `The original content of ${label} is kept in the disk snapshot ${copy.uuid}; put it back with: xe vdi-copy uuid=${copy.uuid} into-vdi-uuid=${target.vdi.uuid}`)
              throw err
            }
          }),
        )
        request.phase('writing disks', d.name)
        const offset = before
        await importDisk(client, target.vdiRef, d.source, (done, all) => request.progress(offset + Math.round((done / Math.max(1, all)) * d.size), total, d.name), signal, { fresh: false })
        before += d.size
        out.push({ name: d.name, path: `${state.SR.get(target.vdi.SR)?.name_label ?? 'SR'}/${target.vdi.uuid}`, format: 'vdi' })
      }
      let started = false
      if (request.start) {
        // Registered before: a start Lifeboat cancelled may still complete on the pool, and the disks can only be
        // put back into a stopped VM.
        const stop = undo.push(`shut ${vm.name_label} down again`, async (s) => {
          if (String(await client.call('VM.get_power_state', [vmRef], s)) !== 'Halted') await runTask(client, 'VM.hard_shutdown', [vmRef], { signal: s })
        })
        await runTask(client, 'VM.start', [vmRef, false, false], { signal })
        stop.done()
        started = true
      }
      for (const p of putBack) p.done()
      const leftBehind = await undo.unwind(AbortSignal.timeout(10 * 60_000))
      return { vmId: vm.uuid, name: vm.name_label, disks: out, started, leftBehind }
    })
  }

  async restoreDisk(request: DiskRestoreRequest, signal: AbortSignal): Promise<DiskRestoreResult> {
    const client = await this.client(signal)
    const { state } = await loadState(client, signal)
    const vmRef = await findVm(client, state, request.vm, signal)
    const vm = await client.record('VM', vmRef, VMRecord, signal)
    const first = vmDisks(state, vm)[0]
    const sr = findSr(state, request.storageDir, first !== undefined ? state.SR.get(first.vdi.SR)?.uuid : undefined)
    const d = request.disk
    const name = request.name ?? `${d.name} restored ${new Date().toISOString().slice(0, 10)}`
    request.phase('creating the disk', `${name} on ${sr.name}`)
    return await withUndo(signal, async (undo) => {
      const vdi = await createVdi(client, sr.ref, name, 'Restored by Lifeboat', d.size, { [TAG.restoredFrom]: d.name })
      undo.push(`remove the half-written disk ${name}`, (s) => destroyQuietly(client, 'VDI', vdi, s))
      request.phase('writing the disk', name)
      await importDisk(client, vdi, d.source, (done, all) => request.progress(Math.round((done / Math.max(1, all)) * d.size), d.size, d.name), signal, { fresh: true })
      const vbd = Ref.parse(await client.call('VBD.create', [{ VM: vmRef, VDI: vdi, userdevice: 'autodetect', bootable: false, mode: 'RW', type: 'Disk', empty: false, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {}, unpluggable: true }]))
      undo.push(`detach the restored disk ${name} from ${vm.name_label}`, (s) => destroyQuietly(client, 'VBD', vbd, s))
      throwIfAborted(signal, 'The restore')
      let plugged = false
      if (vm.power_state === 'Running') {
        try {
          await runTask(client, 'VBD.plug', [vbd], { signal })
          plugged = true
          undo.push(`unplug the restored disk ${name} from ${vm.name_label}`, (s) => runTask(client, 'VBD.unplug', [vbd], { signal: s }))
        } catch (err) {
          if (signal.aborted) throw err
          request.log('warn', `The disk is attached but could not be hot-plugged (${err instanceof Error ? err.message : String(err)}); it appears at the next start of ${vm.name_label}.`)
        }
      }
      const device = String(await client.call('VBD.get_userdevice', [vbd], signal))
      const uuid = String(await client.call('VDI.get_uuid', [vdi], signal))
      return { vmId: vm.uuid, disk: { name, path: `${sr.name}/${uuid}`, format: 'vdi' }, device, plugged, leftBehind: [] }
    })
  }
}

