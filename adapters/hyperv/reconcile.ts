import { z } from 'zod'
import type { Leftover, ReconcileCapability } from '../host-adapter'
import type { HyperVContext } from './context'
import { removeCheckpoint, setCheckpointType } from './hot-backup'
import { liveJobs } from './job-lock'
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
  const script = ps`$vms = @(Get-VM)
[pscustomobject]@{
  vms = @($vms | Select-Object ${raw('Id, Name, CheckpointType')})
  snapshots = @($vms | Get-VMSnapshot | Select-Object ${raw(SNAPSHOT_FIELDS)})
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

/** Finds and removes backup checkpoints that crashed or killed jobs left; "Before patching" checkpoints are the admin's. */
export function hypervReconcile(ctx: HyperVContext): ReconcileCapability {
  return {
    async find(signal) {
      return (await scan(ctx, signal)).found.map((f) => f.leftover)
    },
    async clean(ids, signal) {
      const wanted = new Set(ids)
      const { found, types } = await scan(ctx, signal)
      const cleaned: string[] = []
      const failed: { id: string; reason: string }[] = []
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
      for (const id of ids) if (!found.some((f) => f.leftover.id === id)) failed.push({ id, reason: 'not found any more' })
      return { cleaned, failed }
    },
  }
}
