import type { Leftover, ReconcileCapability } from '../host-adapter'
import { loadState } from './live-inventory'
import { removeCheckVm } from './check-vm'
import { destroySnapshot } from './snapshots'
import { isHealthCheck, purposeOf, TAG } from './tags'
import type { XapiClient } from './xapi-client'
import { allTagKeys, destroyQuietly, removeOtherConfig } from './xapi-objects'
import { isNullRef } from './xapi-schema-kit'
import type { PoolState } from './pool-state'

/** A backup's snapshot whose heartbeat is older than this belongs to no running job (heartbeats come every minute). */
export const STALE_MS = 10 * 60_000

function stale(other: Readonly<Record<string, string>>, now: number): boolean {
  const last = Date.parse(other[TAG.heartbeat] ?? other[TAG.created] ?? '')
  return Number.isNaN(last) || now - last > STALE_MS
}

/**
 * Finds what Lifeboat left on a pool (tagged in other_config): backup snapshots and their VDIs from jobs that died,
 * markers left on VMs, references superseded by newer ones or whose disk is gone, and "snapshot before patching"
 * snapshots past their expiry. Those no running job can own are safe to clean (and are cleaned on connect).
 */
export class XapiReconcile implements ReconcileCapability {
  constructor(
    private readonly client: (signal: AbortSignal) => Promise<XapiClient>,
    private readonly now: () => number = Date.now,
  ) {}

  async find(signal: AbortSignal): Promise<readonly Leftover[]> {
    const { state } = await loadState(await this.client(signal), signal)
    return findLeftovers(state, this.now())
  }

  async clean(ids: readonly string[], signal: AbortSignal): Promise<{ cleaned: string[]; failed: { id: string; reason: string }[] }> {
    const client = await this.client(signal)
    const { state } = await loadState(client, signal)
    const known = new Map(findLeftovers(state, this.now()).map((l) => [l.id, l]))
    const cleaned: string[] = []
    const failed: { id: string; reason: string }[] = []
    for (const id of ids) {
      const leftover = known.get(id)
      if (leftover === undefined) {
        failed.push({ id, reason: 'It is no longer there (or is not something Lifeboat left).' })
        continue
      }
      try {
        await this.cleanOne(client, state, id, signal)
        cleaned.push(id)
      } catch (err) {
        failed.push({ id, reason: err instanceof Error ? err.message : String(err) })
      }
    }
    return { cleaned, failed }
  }

  private async cleanOne(client: XapiClient, state: PoolState, id: string, signal: AbortSignal): Promise<void> {
    const [kind, uuid] = id.split(':', 2)
    if (kind === 'snapshot') {
      const found = [...state.VM].find(([, vm]) => vm.uuid === uuid)
      if (found) await destroySnapshot(client, found[0], found[1], signal)
    } else if (kind === 'vdi' || kind === 'check-vdi') {
      const found = [...state.VDI].find(([, v]) => v.uuid === uuid)
      if (found) await destroyQuietly(client, 'VDI', found[0], signal)
    } else if (kind === 'check-vm') {
      const found = [...state.VM].find(([, vm]) => vm.uuid === uuid)
      if (found) {
        const left = await removeCheckVm(client, found[0], signal)
        if (left !== undefined) throw new Error(left)
      }
    } else if (kind === 'marker') {
      const found = [...state.VM].find(([, vm]) => vm.uuid === uuid)
      if (found) await removeOtherConfig(client, 'VM', found[0], allTagKeys, signal)
    }
  }
}

export function findLeftovers(state: PoolState, now: number): Leftover[] {
  const out: Leftover[] = []
  const vmName = (uuid: string | undefined) => (uuid === undefined ? undefined : [...state.VM.values()].find((v) => v.uuid === uuid)?.name_label)
  const common = (other: Readonly<Record<string, string>>) => {
    const vmId = other[TAG.vm]
    const name = vmName(vmId)
    const job = other[TAG.job]
    return { ...(vmId !== undefined ? { vmId } : {}), ...(name !== undefined ? { vmName: name } : {}), ...(job !== undefined ? { jobId: job } : {}) }
  }
  const checkJobs = new Set<string>()
  for (const vm of state.VM.values()) {
    if (!vm.is_a_snapshot && isHealthCheck(vm.other_config)) {
      // Its heartbeat says whether a health check still owns it; a stale one was left by a Lifeboat that died.
      const safe = stale(vm.other_config, now)
      const job = vm.other_config[TAG.job]
      if (job !== undefined) checkJobs.add(job)
      out.push({ id: `check-vm:${vm.uuid}`, kind: 'vm', description: `Temporary VM "${vm.name_label}" of a health check, with its disks${safe ? ', from a check that no longer runs' : ', of a check that may still be running'}.`, vmId: vm.uuid, vmName: vm.name_label, ...(job !== undefined ? { jobId: job } : {}), safeToClean: safe })
      continue
    }
    const purpose = purposeOf(vm.other_config)
    if (purpose === undefined) continue
    if (!vm.is_a_snapshot) {
      if (purpose === 'pending' && stale(vm.other_config, now)) {
        out.push({ id: `marker:${vm.uuid}`, kind: 'backup-job', description: `A Lifeboat marker left on VM "${vm.name_label}" by a job that stopped while taking a snapshot.`, ...common(vm.other_config), vmId: vm.uuid, vmName: vm.name_label, safeToClean: true })
      }
      continue
    }
    const label = `snapshot "${vm.name_label}" (${vm.uuid})`
    if (purpose === 'backup' || purpose === 'pending') {
      const safe = stale(vm.other_config, now)
      out.push({ id: `snapshot:${vm.uuid}`, kind: 'snapshot', description: `Backup ${label} with its disks${safe ? ', from a backup that no longer runs' : ', of a backup that may still be running'}.`, ...common(vm.other_config), safeToClean: safe })
    } else if (purpose === 'before-patching') {
      const expires = Date.parse(vm.other_config[TAG.expires] ?? '')
      if (!Number.isNaN(expires) && expires <= now) {
        out.push({ id: `snapshot:${vm.uuid}`, kind: 'snapshot', description: `Snapshot before patching ${label}, expired ${new Date(expires).toISOString()}.`, ...common(vm.other_config), safeToClean: true })
      }
    }
  }
  const bases = new Map<string, { uuid: string; created: string }[]>()
  for (const vdi of state.VDI.values()) {
    const job = vdi.other_config[TAG.job]
    // The check creates its VM before any disk, so a disk of a check whose VM is gone belongs to no running check.
    if (isHealthCheck(vdi.other_config) && !vdi.VBDs.some((b) => state.VBD.has(b)) && (job === undefined || !checkJobs.has(job))) {
      out.push({ id: `check-vdi:${vdi.uuid}`, kind: 'file', description: `Disk "${vdi.name_label}" (${vdi.uuid}) of a health check's temporary VM that is gone.`, ...(job !== undefined ? { jobId: job } : {}), safeToClean: true })
      continue
    }
    const purpose = purposeOf(vdi.other_config)
    if (purpose === undefined) continue
    const label = `disk "${vdi.name_label}" (${vdi.uuid})`
    if ((purpose === 'backup' || purpose === 'pending') && !vdi.VBDs.some((b) => state.VBD.has(b))) {
      const safe = stale(vdi.other_config, now)
      out.push({ id: `vdi:${vdi.uuid}`, kind: 'snapshot', description: `Backup snapshot ${label} without its snapshot VM${safe ? '' : ' (its backup may still be running)'}.`, ...common(vdi.other_config), safeToClean: safe })
    } else if (purpose === 'cbt-base' || purpose === 'delta-base') {
      const source = vdi.snapshot_of
      if (isNullRef(source) || !state.VDI.has(source)) {
        out.push({ id: `vdi:${vdi.uuid}`, kind: 'checkpoint', description: `Incremental reference ${label} whose disk no longer exists.`, ...common(vdi.other_config), safeToClean: true })
        continue
      }
      const list = bases.get(source) ?? []
      list.push({ uuid: vdi.uuid, created: vdi.other_config[TAG.created] ?? '' })
      bases.set(source, list)
    }
  }
  for (const list of bases.values()) {
    list.sort((a, b) => b.created.localeCompare(a.created))
    for (const old of list.slice(1)) {
      const vdi = [...state.VDI.values()].find((v) => v.uuid === old.uuid)
      if (vdi === undefined) continue
      out.push({ id: `vdi:${old.uuid}`, kind: 'checkpoint', description: `Incremental reference disk ${old.uuid}, replaced by a newer one.`, ...common(vdi.other_config), safeToClean: true })
    }
  }
  return out
}
