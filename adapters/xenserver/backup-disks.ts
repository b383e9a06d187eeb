import { z } from 'zod'
import { AdapterError, throwIfAborted, type BackupDisk, type BackupOptions, type JsonValue } from '../host-adapter'
import type { UndoHandle, UndoStack } from '../undo-stack'
import { changedRanges, parseToken, type Token, type TokenDisk } from './incremental'
import { connectAny, nbdBlockSource } from './nbd-client'
import { deviceName, type PoolState } from './pool-state'
import { TAG } from './tags'
import { SequentialExport, SpooledVhdDelta, type VdiRef } from './vdi-readouts'
import type { XapiClient } from './xapi-client'
import { xapiCode } from './xapi-errors'
import { findByUuid } from './xapi-objects'
import { VDIRecord, VdiNbdServerInfoRecord, type SRRecord, type VBDRecord } from './xapi-records.generated'

export type Strategy = 'cbt' | 'vhd' | 'none'

export interface LiveDisk {
  readonly ref: string
  readonly record: VDIRecord
  readonly vbd: VBDRecord
  readonly sr: SRRecord | undefined
  readonly name: string
  /** The pool member whose local SR holds it, when not shared. */
  readonly host?: string
}

export interface DiskPlan {
  readonly live: LiveDisk
  readonly strategy: Strategy
  /** The previous base to compare against, when the chain holds. */
  readonly base?: { readonly ref: string; readonly uuid: string }
  /** Why this disk is read in full although an incremental was asked for (per disk, for the job's `reads`). */
  readonly fullReason?: string
  /** This backup turned changed block tracking on; undone unless a restore point is written (then done()). */
  readonly cbtTurnedOn?: UndoHandle
}

/** SR types that keep VDIs as VHD chains, where a delta export against a kept snapshot (base=) works. */
const VHD_SR_TYPES = new Set(['ext', 'nfs', 'lvm', 'lvmoiscsi', 'lvmohba', 'smb', 'cifs'])

export function cbtCapable(state: PoolState, sr: SRRecord | undefined): boolean {
  if (sr === undefined || !sr.allowed_operations.includes('vdi_enable_cbt')) return false
  const sm = [...state.SM.values()].find((m) => m.type === sr.type)
  return sm === undefined || sm.capabilities.some((c) => c.startsWith('VDI_CONFIG_CBT'))
}

export function nbdAvailable(state: PoolState): boolean {
  return [...state.network.values()].some((n) => n.purpose.includes('nbd'))
}

export function liveDisks(state: PoolState, vbdRefs: readonly string[]): LiveDisk[] {
  const out: LiveDisk[] = []
  for (const [i, vbdRef] of vbdRefs.entries()) {
    const vbd = state.VBD.get(vbdRef)
    if (vbd === undefined || vbd.type !== 'Disk' || vbd.empty) continue
    const record = state.VDI.get(vbd.VDI)
    if (record === undefined) continue
    const sr = state.SR.get(record.SR)
    const pbd = sr !== undefined && !sr.shared && sr.PBDs.length === 1 ? state.PBD.get(sr.PBDs[0] ?? '') : undefined
    const host = pbd !== undefined ? state.host.get(pbd.host)?.address : undefined
    out.push({ ref: vbd.VDI, record, vbd, sr, name: deviceName(vbd.userdevice, i), ...(host !== undefined ? { host } : {}) })
  }
  return out.sort((a, b) => Number(a.vbd.userdevice) - Number(b.vbd.userdevice))
}

/**
 * Decides per disk how it is read: CBT (changed blocks over NBD) where the SR tracks changed blocks and a pool
 * network offers NBD, else a VHD delta against a kept snapshot where the SR keeps VHD chains, else in full. Turns
 * changed block tracking on where it is missing (the next backup then profits). Checks the previous base.
 */
export async function planDisks(client: XapiClient, state: PoolState, disks: readonly LiveDisk[], options: BackupOptions, undo: UndoStack, signal: AbortSignal): Promise<DiskPlan[]> {
  const wantIncremental = options.incremental !== false
  const previous: Token | undefined = options.previous === undefined ? undefined : parseToken(options.previous.token)
  const nbd = nbdAvailable(state)
  const plans: DiskPlan[] = []
  for (const live of disks) {
    let strategy: Strategy = 'none'
    if (wantIncremental && cbtCapable(state, live.sr) && nbd) strategy = 'cbt'
    else if (wantIncremental && live.sr !== undefined && VHD_SR_TYPES.has(live.sr.type)) strategy = 'vhd'
    let cbtWasOff = false
    let cbtTurnedOn: UndoHandle | undefined
    if (strategy === 'cbt' && !live.record.cbt_enabled) {
      try {
        throwIfAborted(signal, 'The backup')
        // Not interrupted half-way (a cancelled call may still land on the pool): the undo must know it happened.
        await client.call('VDI.enable_cbt', [live.ref])
        cbtTurnedOn = undo.push(`turn changed block tracking off again for ${live.name}`, async (s) => {
          await client.call('VDI.disable_cbt', [live.ref], s)
        })
        cbtWasOff = true
        options.log('info', `Turned on changed block tracking for ${live.name} (${live.record.name_label}); from the next backup on only changed blocks are read.`)
      } catch (err) {
        if (signal.aborted) throw err
        options.log('warn', `Could not turn on changed block tracking for ${live.name}: ${err instanceof Error ? err.message : String(err)}`)
        strategy = live.sr !== undefined && VHD_SR_TYPES.has(live.sr.type) ? 'vhd' : 'none'
      }
    }
    const plan = await checkBase(client, live, strategy, previous?.disks.find((d) => d.vdi === live.record.uuid), { cbtWasOff, hadPrevious: options.previous !== undefined, tokenValid: previous !== undefined, wantIncremental }, signal)
    plans.push(cbtTurnedOn !== undefined ? { ...plan, cbtTurnedOn } : plan)
  }
  return plans
}

async function checkBase(
  client: XapiClient,
  live: LiveDisk,
  strategy: Strategy,
  entry: TokenDisk | undefined,
  ctx: { cbtWasOff: boolean; hadPrevious: boolean; tokenValid: boolean; wantIncremental: boolean },
  signal: AbortSignal,
): Promise<DiskPlan> {
  const full = (why: string): DiskPlan => ({ live, strategy, fullReason: chainBroken(live.name, why) })
  if (!ctx.wantIncremental || strategy === 'none') return { live, strategy }
  if (!ctx.hadPrevious) return { live, strategy }
  if (!ctx.tokenValid) return full('the previous restore point was not made from this pool the way this backup works (no usable incremental reference)')
  if (entry === undefined) return full('the previous restore point has no reference for this disk (new disk, or replaced, e.g. by a revert)')
  if (entry.strategy !== strategy) return full(`the previous backup used ${entry.strategy === 'cbt' ? 'changed block tracking' : 'a VHD delta'}, this one uses ${strategy === 'cbt' ? 'changed block tracking' : 'a VHD delta'}`)
  if (entry.size !== live.record.virtual_size) return full('the disk was resized since the previous backup')
  if (strategy === 'cbt' && ctx.cbtWasOff) {
    // The storage manager disables CBT itself when a host crash left the VDI's tracking log inconsistent.
    return full('changed block tracking was found off (turned off by someone, or by the pool itself after a host crash left its tracking log inconsistent), so the changes since the previous backup are unknown; Lifeboat turned it on again')
  }
  const baseRef = await findByUuid(client, 'VDI', entry.base, signal)
  if (baseRef === undefined) return full(`the reference snapshot ${entry.base} kept on the pool is gone (deleted by someone), so the changes since the previous backup are unknown`)
  const base = VDIRecord.safeParse(await client.call('VDI.get_record', [baseRef], signal))
  if (!base.success) return full('the reference snapshot could not be read')
  if (base.data.snapshot_of !== live.ref) return full('the reference snapshot no longer belongs to this disk')
  if (base.data.other_config[TAG.purpose] !== (strategy === 'cbt' ? 'cbt-base' : 'delta-base')) return full('the reference snapshot is not the one Lifeboat kept')
  if (strategy === 'vhd' && base.data.type === 'cbt_metadata') return full('the reference snapshot holds no data any more (someone data-destroyed it), so no delta can be made against it')
  if (strategy === 'cbt' && !base.data.cbt_enabled) return full('the reference snapshot has no changed block tracking metadata any more')
  return { live, strategy, base: { ref: baseRef, uuid: entry.base } }
}

/** How a disk read whole because its chain broke is announced: what happened, that this backup reads it all, that the next one is incremental again. */
export function chainBroken(name: string, why: string): string {
  return `${name}: ${why}. This backup reads the whole disk; the next backup is incremental again.`
}

export interface ReadoutResult {
  readonly disk: BackupDisk
  /** What the token should remember for this disk when the snapshot is kept. */
  readonly keep?: TokenDisk
  close(): Promise<void>
}

const NbdList = z.array(VdiNbdServerInfoRecord).max(64)

/** How the engine reads one snapshot VDI: changed blocks over NBD, a spooled VHD delta, or the full raw export. */
export async function readoutFor(client: XapiClient, plan: DiskPlan, snapshot: { ref: string; uuid: string }, options: BackupOptions, signal: AbortSignal): Promise<ReadoutResult> {
  const live = plan.live
  const size = live.record.virtual_size
  const vdi: VdiRef = { ref: snapshot.ref, uuid: snapshot.uuid, size, label: `${live.name} (${live.record.name_label})`, ...(live.host !== undefined ? { host: live.host } : {}) }
  const meta: JsonValue = {
    vdi: live.record.uuid,
    name: live.record.name_label,
    description: live.record.name_description,
    userdevice: live.vbd.userdevice,
    bootable: live.vbd.bootable,
    mode: live.vbd.mode,
    sr: live.sr ? { uuid: live.sr.uuid, name: live.sr.name_label, type: live.sr.type } : null,
  }
  const keep: TokenDisk | undefined = plan.strategy === 'none' ? undefined : { vdi: live.record.uuid, strategy: plan.strategy, base: snapshot.uuid, size }
  const fullFile = (reason?: string): ReadoutResult => {
    const disk = new SequentialExport(client, vdi)
    return { disk: { id: live.record.uuid, name: live.name, sizeBytes: size, readout: { kind: 'guest', disk }, meta, ...(reason !== undefined ? { fullReason: reason } : {}) }, ...(keep ? { keep } : {}), close: () => disk.close() }
  }
  if (plan.base === undefined) return fullFile(plan.fullReason)

  if (plan.strategy === 'cbt') {
    let bitmap: unknown
    try {
      bitmap = await client.call('VDI.list_changed_blocks', [plan.base.ref, snapshot.ref], signal)
    } catch (err) {
      if (signal.aborted) throw err
      const code = xapiCode(err) ?? (err instanceof Error ? err.message : String(err))
      return fullFile(chainBroken(live.name, `the pool refused to compare the disk with the previous backup's reference (${code}; changed block tracking was reset, for example after a host crash, or the reference is damaged), so Lifeboat drops that reference`))
    }
    const ranges = typeof bitmap === 'string' ? changedRanges(bitmap, size) : undefined
    if (ranges === undefined) return fullFile(chainBroken(live.name, 'the pool sent a changed-block map Lifeboat cannot use'))
    const infos = NbdList.safeParse(await client.call('VDI.get_nbd_info', [snapshot.ref], signal))
    const targets = infos.success ? infos.data.map((info) => ({ address: info.address, port: info.port, exportName: info.exportname, cert: info.cert, label: vdi.label })) : []
    if (targets.length === 0) return fullFile(`${live.name}: no pool network offers NBD any more, so changed blocks cannot be read one by one. This backup reads the whole disk; the next one is incremental again once a pool network offers NBD.`)
    const nbd = await connectAny(targets, signal)
    if (nbd.size !== size) {
      await nbd.close()
      throw new AdapterError('BAD_RESPONSE', `The NBD export of ${vdi.label} is ${nbd.size} bytes, the VDI ${size}.`)
    }
    const changed = ranges.reduce((s, r) => s + r.length, 0)
    options.log('info', `${live.name}: ${ranges.length} changed range(s), ${changed} bytes of ${size} changed since the previous backup (changed block tracking).`)
    const disk = nbdBlockSource(nbd, vdi.label)
    return { disk: { id: live.record.uuid, name: live.name, sizeBytes: size, readout: { kind: 'guest', disk, changedRanges: ranges }, meta }, ...(keep ? { keep } : {}), close: () => disk.close() }
  }

  options.phase('reading delta', vdi.label)
  const delta = await SpooledVhdDelta.download(client, vdi, plan.base.ref, signal, (n) => options.phase('reading delta', `${vdi.label}: ${n} bytes`))
  const changed = delta.changedRanges
  options.log('info', `${live.name}: ${changed.reduce((s, r) => s + r.length, 0)} bytes of ${size} changed since the previous backup (VHD delta against the kept snapshot).`)
  return { disk: { id: live.record.uuid, name: live.name, sizeBytes: size, readout: { kind: 'guest', disk: delta, changedRanges: changed }, meta }, ...(keep ? { keep } : {}), close: () => delta.close() }
}
