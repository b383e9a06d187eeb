import { z } from 'zod'
import type { Leftover, ReconcileCapability } from '../host-adapter'
import { checkFolders, checkVms, removeCheckFolder, removeCheckVm, vhdRoot } from './check-vm'
import type { HyperVContext } from './context'
import { removeCheckpoint, setCheckpointType } from './hot-backup'
import { liveJobs, removeStaleLock } from './job-lock'
import { ps } from './powershell'
import { runJson } from './ps-runner'
import { SNAPSHOT_FIELDS, SnapshotRecord, VmRecord, arrayOf } from './schemas'
import { parseBackupCheckpoint, type CheckpointTypeName } from './tags'
import { raw } from './vm-details'

interface Found {
  readonly leftover: Leftover
  readonly snapshotId: string
  readonly vmId: string
  readonly originalType?: CheckpointTypeName
}

const Scan = z.object({ vms: arrayOf(VmRecord.pick({ Id: true, Name: true, CheckpointType: true }), 10_000), snapshots: arrayOf(SnapshotRecord, 100_000) })

async function scan(ctx: HyperVContext, signal: AbortSignal): Promise<{ found: Found[]; types: Map<string, string> }> {
  const script = ps`$vms = @(Hyper-V\\Get-VM)
[pscustomobject]@{
  vms = @($vms | Select-Object ${raw('Id, Name, CheckpointType')})
  snapshots = @($vms | Hyper-V\\Get-VMSnapshot | Select-Object ${raw(SNAPSHOT_FIELDS)})
} | ConvertTo-Json -Depth 4 -Compress`
  const result = await runJson(ctx.runner, script, Scan, { signal, what: 'Looking for checkpoints earlier Lifeboat jobs left', timeoutMs: 300_000 })
  const names = new Map(result.vms.map((v) => [v.Id, v.Name]))
  const tagged = result.snapshots.flatMap((s) => {
    const tag = parseBackupCheckpoint(s.Name)
    return tag ? [{ s, tag }] : []
  })
  const live = await liveJobs(ctx.runner, tagged.map((t) => t.tag.jobId), signal)
  const found = tagged.map(({ s, tag }): Found => {
    const vmName = names.get(s.VMId) ?? s.VMName ?? s.VMId
    return {
      snapshotId: s.Id,
      vmId: s.VMId,
      ...(tag.originalType !== undefined ? { originalType: tag.originalType } : {}),
      leftover: {
        id: `checkpoint:${s.Id}`,
        kind: 'snapshot',
        description: `Backup checkpoint "${s.Name}" of ${vmName} left by Lifeboat job ${tag.jobId}; cleaning removes it (Hyper-V merges it into the disks)${tag.originalType !== undefined ? ` and sets the VM's checkpoint type back to ${tag.originalType}` : ''}.`,
        vmId: s.VMId,
        vmName,
        jobId: tag.jobId,
        safeToClean: !live.has(tag.jobId),
      },
    }
  })
  return { found, types: new Map(result.vms.map((v) => [v.Id, v.CheckpointType])) }
}

interface CheckLeftover {
  readonly leftover: Leftover
  readonly remove: (signal: AbortSignal) => Promise<void>
}

/** Temporary VMs of health checks and the folders with their disks, found by name; a held job lock means it still runs. */
async function scanChecks(ctx: HyperVContext, signal: AbortSignal): Promise<CheckLeftover[]> {
  const root = await vhdRoot(ctx, signal)
  const vms = await checkVms(ctx, signal)
  const folders = await checkFolders(ctx, root, signal)
  const live = await liveJobs(ctx.runner, [...vms.map((v) => v.jobId), ...folders.keys()], signal)
  const out: CheckLeftover[] = []
  for (const vm of vms) {
    const safe = !live.has(vm.jobId)
    const folder = `${root}\\${vm.name}`
    out.push({
      leftover: { id: `check-vm:${vm.id}`, kind: 'vm', description: `Temporary VM "${vm.name}" of a health check${safe ? ' that no longer runs' : ' that is still running'}; cleaning turns it off and removes it with its disks.`, vmId: vm.id, vmName: vm.name, jobId: vm.jobId, safeToClean: safe },
      remove: (s) => removeCheckVm(ctx, vm.id, folder, s),
    })
  }
  for (const [jobId, folder] of folders) {
    const safe = !live.has(jobId)
    out.push({
      leftover: { id: `check-dir:${jobId}`, kind: 'file', description: `Folder ${folder} with the disks of a health check's temporary VM${safe ? '' : ' (the check is still running)'}.`, jobId, safeToClean: safe },
      remove: (s) => removeCheckFolder(ctx, folder, s),
    })
  }
  return out
}

/**
 * Finds and removes backup checkpoints that crashed or killed jobs left ("Before patching" checkpoints are the
 * admin's), and the temporary VMs and disk folders of health checks.
 */
export function hypervReconcile(ctx: HyperVContext): ReconcileCapability {
  return {
    async find(signal) {
      return [...(await scan(ctx, signal)).found.map((f) => f.leftover), ...(await scanChecks(ctx, signal)).map((c) => c.leftover)]
    },
    async clean(ids, signal) {
      const wanted = new Set(ids)
      const { found, types } = await scan(ctx, signal)
      const checks = ids.some((id) => id.startsWith('check-')) ? await scanChecks(ctx, signal) : []
      const cleaned: string[] = []
      const failed: { id: string; reason: string }[] = []
      // A check's VM before its folder: the folder holds the VM's disks.
      for (const c of checks.filter((x) => wanted.has(x.leftover.id))) {
        if (!c.leftover.safeToClean) {
          failed.push({ id: c.leftover.id, reason: `The health check (job ${c.leftover.jobId ?? '?'}) is still running.` })
          continue
        }
        try {
          await c.remove(signal)
          cleaned.push(c.leftover.id)
        } catch (err) {
          failed.push({ id: c.leftover.id, reason: err instanceof Error ? err.message : String(err) })
        }
      }
      // A killed check leaves its lock file too; once all it left is gone, so is that.
      for (const jobId of new Set(checks.flatMap((c) => (c.leftover.safeToClean && c.leftover.jobId !== undefined ? [c.leftover.jobId] : [])))) {
        const mine = checks.filter((c) => c.leftover.jobId === jobId)
        if (mine.every((c) => cleaned.includes(c.leftover.id))) await removeStaleLock(ctx.runner, jobId, signal).catch(() => undefined)
      }
      for (const f of found.filter((x) => wanted.has(x.leftover.id))) {
        if (!f.leftover.safeToClean) {
          failed.push({ id: f.leftover.id, reason: `Lifeboat job ${f.leftover.jobId ?? '?'} is still running and reading this checkpoint.` })
          continue
        }
        try {
          await removeCheckpoint(ctx, f.snapshotId, signal)
          if (f.originalType !== undefined && types.get(f.vmId) !== f.originalType) await setCheckpointType(ctx, f.vmId, f.originalType, signal)
          cleaned.push(f.leftover.id)
        } catch (err) {
          failed.push({ id: f.leftover.id, reason: err instanceof Error ? err.message : String(err) })
        }
      }
      for (const id of ids) if (!found.some((f) => f.leftover.id === id) && !checks.some((c) => c.leftover.id === id)) failed.push({ id, reason: 'not found any more' })
      return { cleaned, failed }
    },
  }
}
