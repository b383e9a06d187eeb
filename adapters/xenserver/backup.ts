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
import { startVm, resumeVm, shutDown, suspendVm, type PowerContext } from './power'
import type { PoolState } from './pool-state'
import { tags, TAG, withoutTags } from './tags'
import type { XapiClient } from './xapi-client'
import { xapiCode } from './xapi-errors'
import { destroyQuietly, findByUuid, refByUuid, removeOtherConfig, setOtherConfig, allTagKeys } from './xapi-objects'
import { VBDRecord, VDIRecord, VMRecord } from './xapi-records.generated'
import { isCode, runTaskForRef } from './xapi-tasks'
import { isNullRef } from './xapi-schema-kit'

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

interface Made {
  /** Tags put on the live VM so a new snapshot inherits them. */
  vmTagged: boolean
  snapshotVm?: string
  /** Snapshot VDIs by live VDI uuid. */
  readonly snapshots: Map<string, { ref: string; uuid: string }>
  power: 'none' | 'start' | 'resume'
  readonly readouts: ReadoutResult[]
  heartbeat?: NodeJS.Timeout
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
 * Everything is tagged in other_config (job, VM, purpose), so a crashed backup's leftovers are found and cleaned.
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
    const made: Made = { vmTagged: false, snapshots: new Map(), power: 'none', readouts: [] }
    const disks = liveDisks(state, vm.VBDs)
    try {
      const plans = await planDisks(client, state, disks, options, signal)
      const consistency = await this.prepare(client, vm, vmRef, plans, options, ctx, made, signal)
      made.heartbeat = setInterval(() => void this.beat(client, made), HEARTBEAT_MS)
      made.heartbeat.unref()
      const fullReasons: string[] = []
      const kept: Token['disks'] = []
      for (const plan of plans) {
        const snap = made.snapshots.get(plan.live.record.uuid)
        if (snap === undefined) throw new AdapterError('BAD_RESPONSE', `The snapshot has no copy of ${plan.live.name}.`)
        const r = await readoutFor(client, plan, snap, options, signal)
        made.readouts.push(r)
        if (r.fullReason !== undefined) fullReasons.push(r.fullReason)
        if (r.keep) kept.push(r.keep)
      }
      const token: Token | undefined = kept.length > 0 ? { v: 1, kind: 'xapi', vm: vm.uuid, disks: kept } : undefined
      const finish = (finishSignal: AbortSignal, outcome?: BackupOutcome) => this.cleanup(client, ctx, plans, made, outcome?.committed === true, options, finishSignal)
      return {
        consistency,
        vmConfig: vmConfig(state, vmRef, vm, disks.map((d) => d.vbd)),
        disks: made.readouts.map((r) => r.disk),
        ...(token !== undefined ? { incrementalToken: token as unknown as JsonValue } : {}),
        ...(fullReasons.length > 0 ? { fullReason: fullReasons.join(' ') } : {}),
        finish,
      }
    } catch (err) {
      const { leftBehind } = await this.cleanup(client, ctx, [], made, false, options, signal.aborted ? AbortSignal.timeout(10 * 60_000) : signal)
      for (const l of leftBehind) options.log('error', l)
      throw err
    }
  }

  /** Stops, suspends or snapshots as the mode says; fills `made` as it goes so a failure can be undone. */
  private async prepare(client: XapiClient, vm: VMRecord, vmRef: string, plans: readonly DiskPlan[], options: BackupOptions, ctx: PowerContext, made: Made, signal: AbortSignal): Promise<Consistency> {
    const fields = { job: options.jobId, vm: vm.uuid }
    const snapName = `Lifeboat ${options.mode} backup ${new Date().toISOString().slice(0, 16).replace('T', ' ')}`
    if (options.mode === 'cold') {
      if (vm.power_state === 'Running') {
        await shutDown(ctx, { timeoutMs: options.shutdownTimeoutMs, force: options.forceOffAfterTimeout, cleanAllowed: vm.allowed_operations.includes('clean_shutdown') }, signal)
        made.power = 'start'
      }
      await this.snapshotDisks(client, plans, fields, made, options, signal)
      return vm.power_state === 'Suspended' ? 'crash' : 'offline'
    }
    if (options.mode === 'warm') {
      const ops = new Set(vm.allowed_operations.filter((op) => vm.blocked_operations[op] === undefined))
      if (ops.has('checkpoint')) {
        try {
          await this.snapshotVm(client, vmRef, 'VM.checkpoint', [vmRef, snapName], fields, made, options, signal)
          return 'crash'
        } catch (err) {
          if (signal.aborted || !isCode(err, 'VM_CHECKPOINT_SUSPEND_FAILED', 'VM_CHECKPOINT_RESUME_FAILED', 'OPERATION_NOT_ALLOWED', 'OPERATION_BLOCKED')) throw err
          options.log('warn', `The pool refused a checkpoint of ${vm.name_label} (${xapiCode(err) ?? 'error'}); suspending it for the backup instead.`)
        }
      }
      await suspendVm(ctx, signal)
      made.power = 'resume'
      await this.snapshotDisks(client, plans, fields, made, options, signal)
      return 'crash'
    }
    await this.snapshotVm(client, vmRef, 'VM.snapshot', [vmRef, snapName, []], fields, made, options, signal)
    return vm.power_state === 'Running' ? 'crash' : 'offline'
  }

  /** VM.snapshot / VM.checkpoint, with the tags inherited from the VM so even a crash right after leaves it findable. */
  private async snapshotVm(client: XapiClient, vmRef: string, method: string, args: unknown[], fields: { job: string; vm: string }, made: Made, options: BackupOptions, signal: AbortSignal): Promise<void> {
    made.vmTagged = true
    await setOtherConfig(client, 'VM', vmRef, tags('pending', fields), signal)
    options.phase('creating snapshot', method === 'VM.checkpoint' ? 'checkpoint (memory and disks)' : 'disks')
    let snapRef: string
    try {
      snapRef = await runTaskForRef(client, method, args, { signal, onProgress: (f) => options.phase('creating snapshot', `${Math.round(f * 100)} %`) })
    } catch (err) {
      const result = err instanceof AdapterError ? err.params.result : undefined
      const orphan = typeof result === 'string' ? /OpaqueRef:[A-Za-z0-9-]+/.exec(result)?.[0] : undefined
      if (orphan !== undefined) made.snapshotVm = orphan
      throw err
    }
    made.snapshotVm = snapRef
    await removeOtherConfig(client, 'VM', vmRef, allTagKeys, signal)
    made.vmTagged = false
    const backupTags = { ...tags('backup', fields), [TAG.heartbeat]: new Date().toISOString() }
    await setOtherConfig(client, 'VM', snapRef, backupTags, signal)
    const snap = await client.record('VM', snapRef, VMRecord, signal)
    for (const vbdRef of snap.VBDs) {
      const vbd = await client.record('VBD', vbdRef, VBDRecord, signal)
      if (vbd.type !== 'Disk' || vbd.empty || isNullRef(vbd.VDI)) continue
      const vdi = await client.record('VDI', vbd.VDI, VDIRecord, signal)
      const liveUuid = await client.call('VDI.get_uuid', [vdi.snapshot_of], signal).catch(() => undefined)
      await setOtherConfig(client, 'VDI', vbd.VDI, { ...backupTags, ...(typeof liveUuid === 'string' ? { [TAG.disk]: liveUuid } : {}) }, signal)
      if (typeof liveUuid === 'string') made.snapshots.set(liveUuid, { ref: vbd.VDI, uuid: vdi.uuid })
    }
  }

  /** VDI.snapshot of each disk of a stopped or suspended VM (the export source, and the next backup's reference). */
  private async snapshotDisks(client: XapiClient, plans: readonly DiskPlan[], fields: { job: string; vm: string }, made: Made, options: BackupOptions, signal: AbortSignal): Promise<void> {
    for (const plan of plans) {
      options.phase('creating snapshot', plan.live.name)
      const backupTags = { ...tags('backup', { ...fields, disk: plan.live.record.uuid }), [TAG.heartbeat]: new Date().toISOString() }
      const ref = await runTaskForRef(client, 'VDI.snapshot', [plan.live.ref, {}], { signal })
      const uuid = await client.call('VDI.get_uuid', [ref], signal)
      if (typeof uuid !== 'string') throw new AdapterError('BAD_RESPONSE', 'The pool did not say which snapshot VDI it made.')
      made.snapshots.set(plan.live.record.uuid, { ref, uuid })
      await setOtherConfig(client, 'VDI', ref, backupTags, signal)
    }
  }

  private async beat(client: XapiClient, made: Made): Promise<void> {
    const now = { [TAG.heartbeat]: new Date().toISOString() }
    const signal = AbortSignal.timeout(30_000)
    try {
      if (made.snapshotVm !== undefined) await setOtherConfig(client, 'VM', made.snapshotVm, now, signal)
      for (const s of made.snapshots.values()) await setOtherConfig(client, 'VDI', s.ref, now, signal)
    } catch {
      // A missed heartbeat only makes the leftover look stale sooner; the backup goes on.
    }
  }

  /**
   * Undoes what begin() did, on every path: readers closed, the VM started or resumed again, the snapshot VM and
   * every snapshot VDI destroyed except the one kept per disk as the next reference (only once the restore point
   * is written), and the previous references dropped then. Returns what could not be undone, with the xe command.
   */
  private async cleanup(client: XapiClient, ctx: PowerContext, plans: readonly DiskPlan[], made: Made, committed: boolean, options: BackupOptions, signal: AbortSignal): Promise<{ leftBehind: string[] }> {
    const left: string[] = []
    if (made.heartbeat !== undefined) clearInterval(made.heartbeat)
    for (const r of made.readouts.splice(0)) await r.close().catch(() => undefined)
    // What was undone is logged too: after a cancel or failure the admin reads in the job what Lifeboat removed.
    const attempt = async (what: string, fix: string, fn: () => Promise<void>, done?: string) => {
      try {
        await fn()
        if (done !== undefined) options.log('info', done)
      } catch (err) {
        left.push(`${what} failed: ${err instanceof Error ? err.message : String(err)}. ${fix}`)
      }
    }
    if (made.vmTagged) await attempt(`Removing Lifeboat's marker from ${ctx.vmName}`, 'Lifeboat removes it the next time it connects.', () => removeOtherConfig(client, 'VM', ctx.vmRef, allTagKeys, signal))
    if (made.power === 'start') await attempt(`Starting ${ctx.vmName} again`, `Start it with: xe vm-start uuid=<the VM's uuid>`, () => startVm(ctx, signal), `Started ${ctx.vmName} again.`)
    if (made.power === 'resume') await attempt(`Resuming ${ctx.vmName}`, `Resume it with: xe vm-resume uuid=<the VM's uuid>`, () => resumeVm(ctx, signal), `Resumed ${ctx.vmName}.`)
    made.power = 'none'
    if (made.snapshotVm !== undefined) {
      const snapRef = made.snapshotVm
      await attempt(`Removing the backup snapshot of ${ctx.vmName}`, 'Lifeboat removes it the next time it connects (it is tagged lifeboat:purpose=backup).', async () => {
        const snap = await client.record('VM', snapRef, VMRecord, signal).catch((err: unknown) => {
          if (isCode(err, 'HANDLE_INVALID')) return undefined
          throw err
        })
        if (snap === undefined) return
        const vdis: string[] = []
        for (const vbdRef of snap.VBDs) {
          const vbd = await client.record('VBD', vbdRef, VBDRecord, signal).catch(() => undefined)
          if (vbd !== undefined && !isNullRef(vbd.VDI)) vdis.push(vbd.VDI)
        }
        await destroyQuietly(client, 'VM', snapRef, signal)
        if (!isNullRef(snap.suspend_VDI)) await destroyQuietly(client, 'VDI', snap.suspend_VDI, signal)
        const tracked = new Set([...made.snapshots.values()].map((s) => s.ref))
        for (const v of vdis) if (!tracked.has(v)) await destroyQuietly(client, 'VDI', v, signal)
      }, `Removed the backup snapshot of ${ctx.vmName} from the pool.`)
      made.snapshotVm = undefined
    }
    const planOf = new Map(plans.map((p) => [p.live.record.uuid, p]))
    for (const [liveUuid, snap] of made.snapshots) {
      const plan = planOf.get(liveUuid)
      const keep = committed && plan !== undefined && plan.strategy !== 'none'
      if (keep && plan.strategy === 'cbt') {
        await attempt(`Keeping the changed-block reference of ${plan.live.name}`, `Remove it with: xe vdi-destroy uuid=${snap.uuid} (the next backup of this disk then reads it in full).`, async () => {
          try {
            await client.call('VDI.data_destroy', [snap.ref], signal)
            await setOtherConfig(client, 'VDI', snap.ref, { [TAG.purpose]: 'cbt-base' }, signal)
            await removeOtherConfig(client, 'VDI', snap.ref, [TAG.heartbeat, TAG.job], signal)
          } catch (err) {
            await destroyQuietly(client, 'VDI', snap.ref, signal).catch(() => undefined)
            throw err
          }
        }, `Kept the changed-block reference of ${plan.live.name} (metadata only, no disk data) for the next backup.`)
      } else if (keep) {
        await attempt(`Keeping the delta reference of ${plan.live.name}`, `Remove it with: xe vdi-destroy uuid=${snap.uuid}.`, async () => {
          await setOtherConfig(client, 'VDI', snap.ref, { [TAG.purpose]: 'delta-base' }, signal)
          await removeOtherConfig(client, 'VDI', snap.ref, [TAG.heartbeat, TAG.job], signal)
        }, `Kept the snapshot of ${plan.live.name} as the reference for the next backup's delta.`)
      } else {
        await attempt(`Removing the snapshot VDI ${snap.uuid}`, `Remove it with: xe vdi-destroy uuid=${snap.uuid} (Lifeboat also removes it the next time it connects).`, () => destroyQuietly(client, 'VDI', snap.ref, signal), `Removed the disk snapshot ${plan?.live.name ?? snap.uuid} (VDI ${snap.uuid}).`)
      }
    }
    if (committed) {
      const previous = options.previous === undefined ? undefined : parseToken(options.previous.token)
      const now = new Set([...made.snapshots.values()].map((s) => s.uuid))
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
    made.snapshots.clear()
    return { leftBehind: left }
  }
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
