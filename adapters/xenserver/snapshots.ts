import { AdapterError, throwIfAborted, type BackupDisk, type SnapshotCapability, type VmSnapshotDetail } from '../host-adapter'
import { withUndo } from '../undo-stack'
import { loadState } from './live-inventory'
import { openSnapshotVdis } from './snapshot-disks'
import { vmDisks, type PoolState } from './pool-state'
import { isLifeboat, isoTime, purposeOf, tags, TAG } from './tags'
import type { XapiClient } from './xapi-client'
import { allTagKeys, destroyQuietly, refByUuid, removeOtherConfig, setOtherConfig } from './xapi-objects'
import { VBDRecord, VMRecord } from './xapi-records.generated'
import { isNullRef } from './xapi-schema-kit'
import { isCode, madeAnyway, runTask, runTaskForRef } from './xapi-tasks'

/** XenServer refuses more than 30 links in a VHD chain; past this many, a new snapshot deserves a warning. */
export const CHAIN_WARNING = 20

/** The key XAPI records a snapshot's power state under in snapshot_info (xen-api ocaml/xapi/xapi_vm_clone.ml). */
const POWER_STATE_AT_SNAPSHOT = 'power-state-at-snapshot'

function detail(vm: VMRecord): VmSnapshotDetail {
  const created = isoTime(vm.snapshot_time)
  const purpose = purposeOf(vm.other_config)
  const label = vm.other_config[TAG.label]
  const expires = vm.other_config[TAG.expires]
  return {
    id: vm.uuid,
    name: vm.name_label,
    ...(created !== undefined ? { createdAt: created } : {}),
    lifeboat: isLifeboat(vm.other_config),
    ...(purpose !== undefined ? { purpose } : {}),
    ...(label !== undefined ? { label } : {}),
    kind: 'internal',
    vmState: vm.power_state === 'Suspended' ? 'running' : (vm.snapshot_info[POWER_STATE_AT_SNAPSHOT] ?? 'halted').toLowerCase(),
    ...(expires !== undefined ? { expiresAt: expires } : {}),
  }
}

/** How many hidden VHD parents a VDI has (sm_config vhd-parent links), as the SR reports them. */
export function chainDepth(state: PoolState, vdiUuid: string): number {
  const byUuid = new Map([...state.VDI.values()].map((v) => [v.uuid, v]))
  let depth = 0
  let parent = byUuid.get(vdiUuid)?.sm_config['vhd-parent']
  const seen = new Set<string>()
  while (parent !== undefined && !seen.has(parent) && depth < 1000) {
    seen.add(parent)
    depth++
    parent = byUuid.get(parent)?.sm_config['vhd-parent']
  }
  return depth
}

/** What to tell the admin before a new snapshot: disk chains already long, storage repositories nearly full. */
export function snapshotWarnings(state: PoolState, vm: VMRecord, withMemory: boolean): string[] {
  const warnings: string[] = []
  const bySr = new Map<string, number>()
  for (const { vdi, vbd } of vmDisks(state, vm)) {
    const depth = chainDepth(state, vdi.uuid)
    if (depth >= CHAIN_WARNING) {
      warnings.push(`Disk ${vbd.userdevice} (${vdi.name_label}) already sits on a chain of ${depth} snapshots; XenServer allows at most 30. Remove old snapshots and let the SR coalesce before taking more.`)
    }
    bySr.set(vdi.SR, (bySr.get(vdi.SR) ?? 0) + vdi.virtual_size)
  }
  const first = vmDisks(state, vm)[0]
  if (withMemory && first !== undefined) bySr.set(first.vdi.SR, (bySr.get(first.vdi.SR) ?? 0) + vm.memory_static_max)
  for (const [srRef, needed] of bySr) {
    const sr = state.SR.get(srRef)
    if (sr === undefined || sr.physical_size <= 0) continue
    const free = sr.physical_size - sr.physical_utilisation
    const gib = (n: number) => `${(n / 1024 ** 3).toFixed(1)} GiB`
    if (free < needed) warnings.push(`Storage repository "${sr.name_label}" has ${gib(free)} free; the snapshot's disks may grow to ${gib(needed)} while it exists, so it can run out of space.`)
    else if (free < sr.physical_size * 0.1) warnings.push(`Storage repository "${sr.name_label}" is over 90 % full (${gib(free)} free).`)
  }
  return warnings
}

/** "Snapshot before patching" and the VM's snapshot list: create (tagged, with memory where the pool allows), revert, discard; any snapshot's disks opened for browsing. */
export class XapiSnapshots implements SnapshotCapability {
  constructor(private readonly client: (signal: AbortSignal) => Promise<XapiClient>) {}

  private async snapshotOf(client: XapiClient, vmRef: string, snapshotId: string, signal: AbortSignal): Promise<{ ref: string; record: VMRecord }> {
    const ref = await refByUuid(client, 'VM', snapshotId, signal)
    const record = await client.record('VM', ref, VMRecord, signal)
    if (!record.is_a_snapshot || record.snapshot_of !== vmRef) throw new AdapterError('NOT_FOUND', `${snapshotId} is not a snapshot of this VM.`)
    return { ref, record }
  }

  /** A snapshot of the VM by uuid, or by name when exactly one of its snapshots has it. */
  private async findSnapshot(client: XapiClient, vmRef: string, idOrName: string, signal: AbortSignal): Promise<{ ref: string; record: VMRecord }> {
    if (/^[0-9a-f-]{36}$/i.test(idOrName)) {
      const byId = await this.snapshotOf(client, vmRef, idOrName, signal).catch((err: unknown) => {
        if (err instanceof AdapterError && err.code === 'NOT_FOUND') return undefined
        throw err
      })
      if (byId !== undefined) return byId
    }
    const vm = await client.record('VM', vmRef, VMRecord, signal)
    const named: { ref: string; record: VMRecord }[] = []
    for (const ref of vm.snapshots) {
      const record = await client.record('VM', ref, VMRecord, signal).catch(() => undefined)
      if (record?.is_a_snapshot === true && record.snapshot_of === vmRef && record.name_label === idOrName) named.push({ ref, record })
    }
    if (named.length > 1) throw new AdapterError('NOT_FOUND', `${vm.name_label} has ${named.length} snapshots named "${idOrName.slice(0, 200)}"; name one by its uuid.`)
    const hit = named[0]
    if (hit === undefined) throw new AdapterError('NOT_FOUND', `${vm.name_label} has no snapshot "${idOrName.slice(0, 200)}".`, { snapshot: idOrName.slice(0, 200) })
    return hit
  }

  async list(vmId: string, signal: AbortSignal): Promise<readonly VmSnapshotDetail[]> {
    const client = await this.client(signal)
    const vm = await client.record('VM', await refByUuid(client, 'VM', vmId, signal), VMRecord, signal)
    const out: VmSnapshotDetail[] = []
    for (const s of vm.snapshots) {
      const snap = await client.record('VM', s, VMRecord, signal).catch((err: unknown) => {
        if (isCode(err, 'HANDLE_INVALID')) return undefined
        throw err
      })
      if (snap !== undefined) out.push(detail(snap))
    }
    return out.sort((a, b) => (a.createdAt ?? '').localeCompare(b.createdAt ?? ''))
  }

  async create(vmId: string, options: { readonly label: string; readonly quiesce?: boolean; readonly expiresAt?: string }, signal: AbortSignal): Promise<VmSnapshotDetail> {
    const client = await this.client(signal)
    const vmRef = await refByUuid(client, 'VM', vmId, signal)
    const { state } = await loadState(client, signal)
    const vm = state.VM.get(vmRef) ?? (await client.record('VM', vmRef, VMRecord, signal))
    if (options.expiresAt !== undefined && Number.isNaN(Date.parse(options.expiresAt))) throw new AdapterError('NOT_SUPPORTED', `"${options.expiresAt}" is not a time.`)
    const ops = new Set(vm.allowed_operations.filter((op) => vm.blocked_operations[op] === undefined))
    const withMemory = vm.power_state === 'Running' && ops.has('checkpoint')
    if (!withMemory && !ops.has('snapshot')) throw new AdapterError('NOT_SUPPORTED', `The pool does not allow a snapshot of ${vm.name_label} now.`)
    const warnings = snapshotWarnings(state, vm, withMemory)
    const expires = options.expiresAt === undefined ? undefined : new Date(options.expiresAt).toISOString()
    const marks = tags('before-patching', { vm: vm.uuid, label: options.label, ...(expires !== undefined ? { expires } : {}) })
    // A failure or cancel before the snapshot is handed to the admin removes it again, and the marker on the VM.
    return await withUndo(signal, async (undo) => {
      // Removing keys that are not there is harmless, so the undo comes first: a cancelled call may still land.
      const marker = undo.push(`remove Lifeboat's marker from ${vm.name_label}`, (s) => removeOtherConfig(client, 'VM', vmRef, allTagKeys, s))
      await setOtherConfig(client, 'VM', vmRef, { ...marks, [TAG.purpose]: 'pending' }, signal)
      const register = (ref: string) => undo.push(`remove the new snapshot of ${vm.name_label}`, (s) => destroySnapshotByRef(client, ref, s))
      const take = async (method: 'VM.checkpoint' | 'VM.snapshot'): Promise<string> => {
        try {
          return await runTaskForRef(client, method, [vmRef, options.label], { signal })
        } catch (err) {
          const orphan = madeAnyway(err)
          if (orphan !== undefined) register(orphan)
          throw err
        }
      }
      let snapRef: string
      try {
        snapRef = await take(withMemory ? 'VM.checkpoint' : 'VM.snapshot')
      } catch (err) {
        if (!withMemory || signal.aborted || !isCode(err, 'VM_CHECKPOINT_SUSPEND_FAILED', 'VM_CHECKPOINT_RESUME_FAILED', 'OPERATION_NOT_ALLOWED', 'OPERATION_BLOCKED')) throw err
        warnings.push(`The pool refused to save the memory too, so this snapshot has the disks only (reverting starts the VM from its disks).`)
        snapRef = await take('VM.snapshot')
      }
      const made = register(snapRef)
      await removeOtherConfig(client, 'VM', vmRef, allTagKeys, signal)
      marker.done()
      await setOtherConfig(client, 'VM', snapRef, marks, signal)
      const snap = await client.record('VM', snapRef, VMRecord, signal)
      for (const vbdRef of snap.VBDs) {
        const vbd = await client.record('VBD', vbdRef, VBDRecord, signal).catch(() => undefined)
        if (vbd !== undefined && vbd.type === 'Disk' && !isNullRef(vbd.VDI)) await setOtherConfig(client, 'VDI', vbd.VDI, marks, signal)
      }
      throwIfAborted(signal, 'Creating the snapshot')
      made.done()
      return { ...detail(snap), ...(warnings.length > 0 ? { warnings } : {}) }
    })
  }

  async revert(vmId: string, snapshotId: string, options: { readonly start?: boolean }, signal: AbortSignal): Promise<void> {
    const client = await this.client(signal)
    const vmRef = await refByUuid(client, 'VM', vmId, signal)
    const snap = await this.snapshotOf(client, vmRef, snapshotId, signal)
    await runTask(client, 'VM.revert', [snap.ref], { signal })
    const vm = await client.record('VM', vmRef, VMRecord, signal)
    const capturedRunning = snap.record.power_state === 'Suspended' || snap.record.snapshot_info[POWER_STATE_AT_SNAPSHOT] === 'Running'
    const run = options.start ?? capturedRunning
    if (vm.power_state === 'Suspended') {
      if (run) await runTask(client, 'VM.resume', [vmRef, false, false], { signal })
      else await runTask(client, 'VM.hard_shutdown', [vmRef], { signal })
    } else if (vm.power_state === 'Halted' && run) await runTask(client, 'VM.start', [vmRef, false, false], { signal })
  }

  async remove(vmId: string, snapshotId: string, signal: AbortSignal): Promise<void> {
    const client = await this.client(signal)
    const vmRef = await refByUuid(client, 'VM', vmId, signal)
    const snap = await this.snapshotOf(client, vmRef, snapshotId, signal)
    await destroySnapshot(client, snap.ref, snap.record, signal)
  }

  /** The snapshot's disks (its VDIs, read-only while it exists), for browsing them in place (snapshot-disks.ts). */
  async openDisks(vmId: string, snapshotId: string, signal: AbortSignal): Promise<readonly BackupDisk[]> {
    const client = await this.client(signal)
    const vmRef = await refByUuid(client, 'VM', vmId, signal)
    const snap = await this.findSnapshot(client, vmRef, snapshotId, signal)
    return await openSnapshotVdis(client, snap.record, signal)
  }
}

/** A snapshot VM and its VDIs (and a checkpoint's memory image): destroying the VM record alone leaves the disks. */
export async function destroySnapshot(client: XapiClient, ref: string, record: VMRecord, signal: AbortSignal): Promise<void> {
  const vdis: string[] = []
  for (const vbdRef of record.VBDs) {
    const vbd = await client.record('VBD', vbdRef, VBDRecord, signal).catch(() => undefined)
    if (vbd !== undefined && vbd.type === 'Disk' && !isNullRef(vbd.VDI)) vdis.push(vbd.VDI)
  }
  await destroyQuietly(client, 'VM', ref, signal)
  if (!isNullRef(record.suspend_VDI)) await destroyQuietly(client, 'VDI', record.suspend_VDI, signal)
  for (const v of vdis) await destroyQuietly(client, 'VDI', v, signal)
}

/**
 * A snapshot VM by reference, with its VDIs and memory image, except the VDIs in `spare` (kept as references).
 * Reads the record at the time of the call, so it also removes a snapshot Lifeboat never got to read. Gone already: done.
 */
export async function destroySnapshotByRef(client: XapiClient, ref: string, signal: AbortSignal, spare: ReadonlySet<string> = new Set()): Promise<void> {
  const record = await client.record('VM', ref, VMRecord, signal).catch((err: unknown) => {
    if (isCode(err, 'HANDLE_INVALID')) return undefined
    throw err
  })
  if (record === undefined) return
  const vdis: string[] = []
  for (const vbdRef of record.VBDs) {
    const vbd = await client.record('VBD', vbdRef, VBDRecord, signal).catch((err: unknown) => {
      if (isCode(err, 'HANDLE_INVALID')) return undefined
      throw err
    })
    if (vbd !== undefined && vbd.type === 'Disk' && !isNullRef(vbd.VDI) && !spare.has(vbd.VDI)) vdis.push(vbd.VDI)
  }
  await destroyQuietly(client, 'VM', ref, signal)
  if (!isNullRef(record.suspend_VDI)) await destroyQuietly(client, 'VDI', record.suspend_VDI, signal)
  for (const v of vdis) await destroyQuietly(client, 'VDI', v, signal)
}
