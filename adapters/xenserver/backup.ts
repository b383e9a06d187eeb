import {
  AdapterError,
  throwIfAborted,
  type BackupCapability,
  type BackupOptions,
  type BackupOutcome,
  type BackupSession,
  type Consistency,
  type JsonValue,
  type ModeSupport,
} from '../host-adapter'
import { liveDisks, planDisks, readoutFor, type DiskPlan, type ReadoutResult } from './backup-disks'
import { parseToken, type Token } from './incremental'
import { loadState } from './live-inventory'
import { markedSnapshot } from './marked-snapshot'
import { startVm, resumeVm, shutDown, suspendVm, type PowerContext } from './power'
import { destroySnapshotByRef } from './snapshots'
import type { PoolState } from './pool-state'
import { tags, TAG, withoutTags } from './tags'
import type { XapiClient } from './xapi-client'
import { xapiCode } from './xapi-errors'
import { destroyQuietly, findByUuid, refByUuid, removeOtherConfig, setOtherConfig, whileInUse } from './xapi-objects'
import { VBDRecord, VDIRecord, VMRecord } from './xapi-records.generated'
import { isCode, madeAnyway, runTaskForRef } from './xapi-tasks'
import { isNullRef } from './xapi-schema-kit'
import { cleanupSignal, UndoStack, type UndoHandle } from '../undo-stack'

const HEARTBEAT_MS = 60_000

export function vmModes(vm: VMRecord): ModeSupport[] {
  const ops = new Set(vm.allowed_operations.filter((op) => vm.blocked_operations[op] === undefined))
  const running = vm.power_state === 'Running'
  const name = vm.name_label
  const cold: ModeSupport =
    vm.power_state === 'Paused'
      ? { mode: 'cold', available: false, reason: `${name} is paused; unpause or shut it down first.`, downtime: 'shutdown', consistency: 'offline' }
      : { mode: 'cold', available: true, downtime: running ? 'shutdown' : 'none', consistency: vm.power_state === 'Suspended' ? 'crash' : 'offline' }
  const warm: ModeSupport = !running
    ? { mode: 'warm', available: false, reason: `${name} is not running, so there is nothing to pause: use a cold or hot backup.`, downtime: 'pause', consistency: 'crash' }
    : ops.has('checkpoint') || ops.has('suspend')
      ? { mode: 'warm', available: true, downtime: 'pause', consistency: 'crash' }
      : { mode: 'warm', available: false, reason: `The pool allows neither a checkpoint nor a suspend of ${name} now (for example a passed-through device, or blocked operations).`, downtime: 'pause', consistency: 'crash' }
  const hot: ModeSupport = ops.has('snapshot')
    ? { mode: 'hot', available: true, downtime: 'none', consistency: running ? 'crash' : 'offline' }
    : { mode: 'hot', available: false, reason: `The pool does not allow a snapshot of ${name} now (operation not allowed or blocked).`, downtime: 'none', consistency: 'crash' }
  return [cold, warm, hot]
}

/** The snapshot VDI of each live disk (by live VDI uuid), as begin() took them: what the readouts read. */
interface Taken {
  readonly disks: Map<string, { ref: string; uuid: string }>
  /** The snapshot VM of VM.snapshot / VM.checkpoint, for the heartbeat. */
  vm?: string
  /** Keeps these snapshot VDIs when the snapshot is undone: they become the next backup's references. */
  spare(refs: ReadonlySet<string>): void
}

/**
 * An undo that logs what it did (after a cancel or failure the admin reads in the job what Lifeboat removed) and
 * turns a failure into a left-behind line with the command that fixes it by hand.
 */
function undoStep(options: BackupOptions, what: string, fix: string, fn: (signal: AbortSignal) => Promise<string | undefined>): (signal: AbortSignal) => Promise<string | undefined> {
  return async (signal) => {
    try {
      const done = await fn(signal)
      if (typeof done === 'string') options.log('info', done)
      return undefined
    } catch (err) {
      return `${what} failed: ${err instanceof Error ? err.message : String(err)}. ${fix}`
    }
  }
}

/**
 * Backups of XenServer/XCP-ng VMs. Per mode (what the wizard explains):
 * - cold: VM.clean_shutdown (with a timeout; forced off only if chosen) → VDI.snapshot of each disk (tagged) →
 *   export → VM.start again if it was running;
 * - warm: VM.checkpoint (memory + disks) → export the snapshot's VDIs; where the pool refuses a checkpoint:
 *   VM.suspend → VDI.snapshot of each disk → export → VM.resume;
 * - hot: VM.snapshot → export each snapshot VDI;
 * then the snapshot VM is destroyed and its VDIs too (destroying the VM record alone would leave the disks), except a
 * disk's snapshot kept as the next backup's reference: reduced to changed-block metadata (VDI.data_destroy) with CBT,
 * or kept whole for a VHD delta export (base=) where the SR has no CBT.
 * Every change on the pool registers its undo on the flow's UndoStack right after it is made (or, where a cancelled
 * call may still complete on the pool, a conditional undo right before): a failure or cancel after any step undoes
 * exactly what was done, and finish() unwinds the same stack. Everything is also tagged in other_config (job, VM,
 * purpose), so what a killed Lifeboat leaves is found and cleaned by reconcile.
 */
export class XapiBackup implements BackupCapability {
  constructor(private readonly client: (signal: AbortSignal) => Promise<XapiClient>) {}

  async modes(vmId: string, signal: AbortSignal): Promise<readonly ModeSupport[]> {
    const client = await this.client(signal)
    const vm = await client.record('VM', await refByUuid(client, 'VM', vmId, signal), VMRecord, signal)
    return vmModes(vm)
  }

  async begin(vmId: string, options: BackupOptions, signal: AbortSignal): Promise<BackupSession> {
    throwIfAborted(signal, 'The backup')
    const client = await this.client(signal)
    const vmRef = await refByUuid(client, 'VM', vmId, signal)
    const { state } = await loadState(client, signal)
    const vm = state.VM.get(vmRef) ?? (await client.record('VM', vmRef, VMRecord, signal))
    if (vm.is_a_template || vm.is_a_snapshot || vm.is_control_domain) throw new AdapterError('NOT_SUPPORTED', `${vm.name_label} is not a VM Lifeboat backs up (template, snapshot or control domain).`)
    const support = vmModes(vm).find((m) => m.mode === options.mode)
    if (support?.available !== true) throw new AdapterError('NOT_SUPPORTED', support?.reason ?? `A ${options.mode} backup is not possible.`)
    if (options.quiesce && options.quiesceRequired === true && options.mode !== 'cold' && vm.power_state === 'Running') {
      throw new AdapterError(
        'NOT_SUPPORTED',
        `${vm.name_label} cannot be backed up application-consistent while it runs: XenServer and XCP-ng no longer offer quiesced snapshots (VM.snapshot_with_quiesce was removed from XAPI). Nothing was changed on the pool. Choose a cold backup, or allow a crash-consistent one.`,
        { vm: vm.name_label },
      )
    }
    if (options.quiesce && options.mode !== 'cold' && vm.power_state === 'Running') {
      options.log('info', 'XenServer and XCP-ng no longer offer quiesced snapshots (VM.snapshot_with_quiesce was removed from XAPI), so this restore point is crash-consistent.')
    }
    const ctx: PowerContext = { client, vmRef, vmName: vm.name_label, log: options.log, phase: options.phase }
    const undo = new UndoStack()
    const disks = liveDisks(state, vm.VBDs)
    try {
      const plans = await planDisks(client, state, disks, options, undo, signal)
      const { consistency, taken } = await this.prepare(client, vm, vmRef, plans, options, ctx, undo, signal)
      const heartbeat = setInterval(() => void this.beat(client, taken), HEARTBEAT_MS)
      heartbeat.unref()
      undo.push('stop the heartbeat', () => clearInterval(heartbeat))
      const kept: Token['disks'] = []
      const readouts: ReadoutResult[] = []
      for (const plan of plans) {
        const snap = taken.disks.get(plan.live.record.uuid)
        if (snap === undefined) throw new AdapterError('BAD_RESPONSE', `The snapshot has no copy of ${plan.live.name}.`)
        const r = await readoutFor(client, plan, snap, options, signal)
        undo.push(`close the reader of ${plan.live.name}`, () => r.close().catch(() => undefined))
        readouts.push(r)
        if (r.keep) kept.push(r.keep)
      }
      const token: Token | undefined = kept.length > 0 ? { v: 1, kind: 'xapi', vm: vm.uuid, disks: kept } : undefined
      let finished: Promise<{ leftBehind: string[] }> | undefined
      const finish = (finishSignal: AbortSignal, outcome?: BackupOutcome) => (finished ??= this.finish(client, plans, taken, undo, outcome?.committed === true, options, finishSignal))
      return {
        consistency,
        vmConfig: vmConfig(state, vmRef, vm, disks.map((d) => d.vbd)),
        disks: readouts.map((r) => r.disk),
        ...(token !== undefined ? { incrementalToken: token as unknown as JsonValue } : {}),
        finish,
      }
    } catch (err) {
      for (const l of await undo.unwind(cleanupSignal(signal))) options.log('error', l)
      throw err
    }
  }

  /** Stops, suspends or snapshots as the mode says, registering each undo as it goes. */
  private async prepare(client: XapiClient, vm: VMRecord, vmRef: string, plans: readonly DiskPlan[], options: BackupOptions, ctx: PowerContext, undo: UndoStack, signal: AbortSignal): Promise<{ consistency: Consistency; taken: Taken }> {
    const fields = { job: options.jobId, vm: vm.uuid }
    const snapName = `Lifeboat ${options.mode} backup ${new Date().toISOString().slice(0, 16).replace('T', ' ')}`
    if (options.mode === 'cold') {
      if (vm.power_state === 'Running') {
        // Registered before: a shutdown Lifeboat gave up on (timeout, cancel) may still complete on the pool.
        undo.push(`start ${ctx.vmName} again`, undoStep(options, `Starting ${ctx.vmName} again`, `Start it with: xe vm-start uuid=${vm.uuid}`, async (s) => {
          if ((await powerState(client, vmRef, s)) !== 'Halted') return undefined
          await startVm(ctx, s)
          return `Started ${ctx.vmName} again.`
        }))
        await shutDown(ctx, { timeoutMs: options.shutdownTimeoutMs, force: options.forceOffAfterTimeout, cleanAllowed: vm.allowed_operations.includes('clean_shutdown') }, signal)
      }
      const taken = await this.snapshotDisks(client, plans, fields, undo, options, signal)
      return { consistency: vm.power_state === 'Suspended' ? 'crash' : 'offline', taken }
    }
    if (options.mode === 'warm') {
      const ops = new Set(vm.allowed_operations.filter((op) => vm.blocked_operations[op] === undefined))
      if (ops.has('checkpoint')) {
        try {
          return { consistency: 'crash', taken: await this.snapshotVm(client, vmRef, ctx.vmName, 'VM.checkpoint', [vmRef, snapName], fields, undo, options, signal) }
        } catch (err) {
          if (signal.aborted || !isCode(err, 'VM_CHECKPOINT_SUSPEND_FAILED', 'VM_CHECKPOINT_RESUME_FAILED', 'OPERATION_NOT_ALLOWED', 'OPERATION_BLOCKED')) throw err
          options.log('warn', `The pool refused a checkpoint of ${vm.name_label} (${xapiCode(err) ?? 'error'}); suspending it for the backup instead.`)
        }
      }
      undo.push(`resume ${ctx.vmName}`, undoStep(options, `Resuming ${ctx.vmName}`, `Resume it with: xe vm-resume uuid=${vm.uuid}`, async (s) => {
        if ((await powerState(client, vmRef, s)) !== 'Suspended') return undefined
        await resumeVm(ctx, s)
        return `Resumed ${ctx.vmName}.`
      }))
      await suspendVm(ctx, signal)
      return { consistency: 'crash', taken: await this.snapshotDisks(client, plans, fields, undo, options, signal) }
    }
    // VM.snapshot's ignore_vdis arrived in XAPI 21.4.0; pools before it (XCP-ng 8.2 LTS, XAPI 1.249) answer
    // MESSAGE_PARAMETER_COUNT_MISMATCH to a third argument, so it is left out while no disk is to be ignored (as
    // Xen Orchestra does).
    const taken = await this.snapshotVm(client, vmRef, ctx.vmName, 'VM.snapshot', [vmRef, snapName], fields, undo, options, signal)
    return { consistency: vm.power_state === 'Running' ? 'crash' : 'offline', taken }
  }

  /** VM.snapshot / VM.checkpoint, with the tags inherited from the VM so even a crash right after leaves it findable. */
  private async snapshotVm(client: XapiClient, vmRef: string, name: string, method: string, args: unknown[], fields: { job: string; vm: string }, undo: UndoStack, options: BackupOptions, signal: AbortSignal): Promise<Taken> {
    options.phase('creating snapshot', method === 'VM.checkpoint' ? 'checkpoint (memory and disks)' : 'disks')
    const spared = new Set<string>()
    const taken: Taken = { disks: new Map(), spare: (refs) => refs.forEach((r) => spared.add(r)) }
    const { snapRef, marks: backupTags } = await markedSnapshot(
      client,
      undo,
      {
        vmRef,
        method,
        args,
        fields,
        markerLabel: `remove Lifeboat's marker from ${name}`,
        markerUndo: (remove) =>
          undoStep(options, `Removing Lifeboat's marker from ${name}`, 'Lifeboat removes it the next time it connects.', async (s) => {
            await remove(s)
            return undefined
          }),
        register: (ref) => {
          taken.vm = ref
          undo.push(`remove the backup snapshot of ${name}`, undoStep(options, `Removing the backup snapshot of ${name}`, 'Lifeboat removes it the next time it connects (it is tagged lifeboat:purpose=backup).', async (s) => {
            await destroySnapshotByRef(client, ref, s, spared)
            return `Removed the backup snapshot of ${name} from the pool.`
          }))
        },
        onProgress: (f) => options.phase('creating snapshot', `${Math.round(f * 100)} %`),
      },
      signal,
    )
    const snap = await client.record('VM', snapRef, VMRecord, signal)
    for (const vbdRef of snap.VBDs) {
      const vbd = await client.record('VBD', vbdRef, VBDRecord, signal)
      if (vbd.type !== 'Disk' || vbd.empty || isNullRef(vbd.VDI)) continue
      const vdi = await client.record('VDI', vbd.VDI, VDIRecord, signal)
      const liveUuid = await client.call('VDI.get_uuid', [vdi.snapshot_of], signal).catch(() => undefined)
      await setOtherConfig(client, 'VDI', vbd.VDI, { ...backupTags, ...(typeof liveUuid === 'string' ? { [TAG.disk]: liveUuid } : {}) }, signal)
      if (typeof liveUuid === 'string') taken.disks.set(liveUuid, { ref: vbd.VDI, uuid: vdi.uuid })
    }
    return taken
  }

  /** VDI.snapshot of each disk of a stopped or suspended VM (the export source, and the next backup's reference). */
  private async snapshotDisks(client: XapiClient, plans: readonly DiskPlan[], fields: { job: string; vm: string }, undo: UndoStack, options: BackupOptions, signal: AbortSignal): Promise<Taken> {
    const handles = new Map<string, UndoHandle>()
    const taken: Taken = { disks: new Map(), spare: (refs) => refs.forEach((r) => handles.get(r)?.done()) }
    for (const plan of plans) {
      options.phase('creating snapshot', plan.live.name)
      const backupTags = { ...tags('backup', { ...fields, disk: plan.live.record.uuid }), [TAG.heartbeat]: new Date().toISOString() }
      const register = (ref: string) =>
        handles.set(
          ref,
          undo.push(`remove the disk snapshot of ${plan.live.name}`, undoStep(options, `Removing the disk snapshot of ${plan.live.name}`, 'Remove it with: xe vdi-destroy uuid=<its uuid> (Lifeboat also removes it the next time it connects).', async (s) => {
            await destroyQuietly(client, 'VDI', ref, s)
            return `Removed the disk snapshot of ${plan.live.name}.`
          })),
        )
      let ref: string
      try {
        ref = await runTaskForRef(client, 'VDI.snapshot', [plan.live.ref, {}], { signal })
      } catch (err) {
        const orphan = madeAnyway(err)
        if (orphan !== undefined) register(orphan)
        throw err
      }
      register(ref)
      const uuid = await client.call('VDI.get_uuid', [ref], signal)
      if (typeof uuid !== 'string') throw new AdapterError('BAD_RESPONSE', 'The pool did not say which snapshot VDI it made.')
      taken.disks.set(plan.live.record.uuid, { ref, uuid })
      await setOtherConfig(client, 'VDI', ref, backupTags, signal)
    }
    return taken
  }

  private async beat(client: XapiClient, taken: Taken): Promise<void> {
    const now = { [TAG.heartbeat]: new Date().toISOString() }
    const signal = AbortSignal.timeout(30_000)
    try {
      if (taken.vm !== undefined) await setOtherConfig(client, 'VM', taken.vm, now, signal)
      for (const s of taken.disks.values()) await setOtherConfig(client, 'VDI', s.ref, now, signal)
    } catch {
      // A missed heartbeat only makes the leftover look stale sooner; the backup goes on.
    }
  }

  /**
   * Ends the backup: unwinds begin()'s stack (readers closed, the VM started or resumed again, the snapshot VM and
   * every snapshot VDI destroyed). Once the restore point is written, one snapshot VDI per disk is spared as the next
   * backup's reference (reduced to CBT metadata, or kept whole for a VHD delta), changed block tracking stays on, and
   * the previous references are dropped. Returns what could not be undone, with the xe command.
   */
  private async finish(client: XapiClient, plans: readonly DiskPlan[], taken: Taken, undo: UndoStack, committed: boolean, options: BackupOptions, signal: AbortSignal): Promise<{ leftBehind: string[] }> {
    const keep: { plan: DiskPlan; snap: { ref: string; uuid: string } }[] = []
    if (committed) {
      for (const plan of plans) {
        plan.cbtTurnedOn?.done()
        const snap = taken.disks.get(plan.live.record.uuid)
        if (snap !== undefined && plan.strategy !== 'none') keep.push({ plan, snap })
      }
      taken.spare(new Set(keep.map((k) => k.snap.ref)))
    }
    const left = await undo.unwind(signal)
    const attempt = async (what: string, fix: string, fn: () => Promise<void>, done?: string) => {
      const l = await undoStep(options, what, fix, async () => {
        await fn()
        return done
      })(signal)
      if (l !== undefined) left.push(l)
    }
    for (const { plan, snap } of keep) {
      if (plan.strategy === 'cbt') {
        await attempt(`Keeping the changed-block reference of ${plan.live.name}`, `Remove it with: xe vdi-destroy uuid=${snap.uuid} (the next backup of this disk then reads it in full).`, async () => {
          try {
            await whileInUse(() => client.call('VDI.data_destroy', [snap.ref], signal), signal)
            await setOtherConfig(client, 'VDI', snap.ref, { [TAG.purpose]: 'cbt-base' }, signal)
            await removeOtherConfig(client, 'VDI', snap.ref, [TAG.heartbeat, TAG.job], signal)
          } catch (err) {
            await destroyQuietly(client, 'VDI', snap.ref, signal).catch(() => undefined)
            throw err
          }
        }, `Kept the changed-block reference of ${plan.live.name} (metadata only, no disk data) for the next backup.`)
      } else {
        await attempt(`Keeping the delta reference of ${plan.live.name}`, `Remove it with: xe vdi-destroy uuid=${snap.uuid}.`, async () => {
          await setOtherConfig(client, 'VDI', snap.ref, { [TAG.purpose]: 'delta-base' }, signal)
          await removeOtherConfig(client, 'VDI', snap.ref, [TAG.heartbeat, TAG.job], signal)
        }, `Kept the snapshot of ${plan.live.name} as the reference for the next backup's delta.`)
      }
    }
    if (committed) {
      const previous = options.previous === undefined ? undefined : parseToken(options.previous.token)
      const now = new Set(keep.map((k) => k.snap.uuid))
      for (const d of previous?.disks ?? []) {
        if (now.has(d.base)) continue
        await attempt(`Removing the previous reference ${d.base}`, `Remove it with: xe vdi-destroy uuid=${d.base}.`, async () => {
          const ref = await findByUuid(client, 'VDI', d.base, signal)
          if (ref === undefined) return
          const rec = await client.record('VDI', ref, VDIRecord, signal)
          const p = rec.other_config[TAG.purpose]
          if (p === 'cbt-base' || p === 'delta-base') await destroyQuietly(client, 'VDI', ref, signal)
        })
      }
    }
    return { leftBehind: left }
  }
}

async function powerState(client: XapiClient, vmRef: string, signal: AbortSignal): Promise<string> {
  return String(await client.call('VM.get_power_state', [vmRef], signal))
}

/** The VM's configuration as the pool describes it, for the restore point (restores build a new VM from it). */
function vmConfig(state: PoolState, vmRef: string, vm: VMRecord, vbds: readonly VBDRecord[]): JsonValue {
  const pool = [...state.pool.values()][0]
  const vifs = vm.VIFs.map((r) => state.VIF.get(r)).filter((v) => v !== undefined)
  const config = {
    kind: 'xapi',
    pool: pool ? { uuid: pool.uuid, name: pool.name_label } : null,
    vmRef,
    vm: { ...vm, other_config: withoutTags(vm.other_config) },
    disks: vbds.map((vbd) => {
      const vdi = state.VDI.get(vbd.VDI)
      const sr = vdi ? state.SR.get(vdi.SR) : undefined
      return {
        userdevice: vbd.userdevice,
        bootable: vbd.bootable,
        mode: vbd.mode,
        type: vbd.type,
        vdi: vdi ? { uuid: vdi.uuid, name_label: vdi.name_label, name_description: vdi.name_description, virtual_size: vdi.virtual_size, sharable: vdi.sharable, read_only: vdi.read_only, other_config: withoutTags(vdi.other_config) } : null,
        sr: sr ? { uuid: sr.uuid, name: sr.name_label, type: sr.type } : null,
      }
    }),
    vifs: vifs.map((v) => {
      const net = state.network.get(v.network)
      return { device: v.device, MAC: v.MAC, MTU: v.MTU, locking_mode: v.locking_mode, other_config: v.other_config, network: net ? { uuid: net.uuid, name: net.name_label, bridge: net.bridge } : null }
    }),
  }
  return JSON.parse(JSON.stringify(config)) as JsonValue
}
