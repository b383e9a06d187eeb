import { AdapterError, throwIfAborted, type BackupDisk, type SnapshotCapability, type VmSnapshot, type VmSnapshotDetail } from '../host-adapter'
import type { HyperVContext } from './context'
import { checkpointDrives, removeCheckpoint } from './hot-backup'
import { ps } from './powershell'
import { runJson } from './ps-runner'
import { openDisks } from './readouts'
import { SNAPSHOT_FIELDS, SnapshotRecord, VmRecord, arrayOf } from './schemas'
import { z } from 'zod'
import { startVm, turnOffVm, vmState } from './power'
import { withUndo } from '../undo-stack'
import { parseBackupCheckpoint, parsePatchCheckpoint, patchCheckpointName } from './tags'
import { raw, vmVariable } from './vm-details'

/** How Lifeboat shows a Hyper-V checkpoint (inventory and snapshot lists). */
export function snapshotView(s: SnapshotRecord): VmSnapshot & { label?: string; expiresAt?: string } {
  const backup = parseBackupCheckpoint(s.Name)
  const patch = parsePatchCheckpoint(s.Name)
  return {
    id: s.Id,
    name: s.Name,
    ...(s.CreationTime ? { createdAt: s.CreationTime } : {}),
    lifeboat: backup !== undefined || patch !== undefined,
    ...(backup ? { purpose: 'backup' } : patch ? { purpose: 'before-patching', label: patch.label } : {}),
    ...(patch?.expiresAt !== undefined ? { expiresAt: patch.expiresAt } : {}),
  }
}

const Listing = z.object({ vm: VmRecord.pick({ Id: true, Name: true, ParentSnapshotId: true }), snapshots: arrayOf(SnapshotRecord, 2000) })

async function listing(ctx: HyperVContext, vmId: string, signal: AbortSignal) {
  const script = ps`${vmVariable(vmId)}
[pscustomobject]@{
  vm = $vm | Select-Object ${raw('Id, Name, ParentSnapshotId')}
  snapshots = @(Hyper-V\\Get-VMSnapshot -VM $vm | Select-Object ${raw(SNAPSHOT_FIELDS)})
} | ConvertTo-Json -Depth 4 -Compress`
  return await runJson(ctx.runner, script, Listing, { signal, what: 'Listing checkpoints' })
}

function detail(s: SnapshotRecord, current: string | null | undefined): VmSnapshotDetail {
  const view = snapshotView(s)
  return {
    ...view,
    kind: 'external',
    // A standard checkpoint of a running VM holds its memory (State Saved); reverting to it resumes the VM.
    vmState: s.State === 'Saved' ? 'running' : 'shutoff',
    current: current === s.Id,
  }
}

/** A checkpoint by id, or by name when exactly one checkpoint of the VM has it. */
async function find(ctx: HyperVContext, vmId: string, ref: string, signal: AbortSignal): Promise<SnapshotRecord> {
  const { snapshots } = await listing(ctx, vmId, signal)
  const byId = snapshots.find((s) => s.Id === ref.toLowerCase())
  if (byId) return byId
  const byName = snapshots.filter((s) => s.Name === ref)
  if (byName.length > 1) throw new AdapterError('NOT_FOUND', `The VM has ${byName.length} checkpoints named "${ref.slice(0, 200)}"; name one by its id.`)
  const hit = byName[0]
  if (!hit) throw new AdapterError('NOT_FOUND', `The VM has no checkpoint "${ref.slice(0, 200)}".`, { snapshot: ref.slice(0, 200) })
  return hit
}

/**
 * "Snapshot before patching" on Hyper-V: Checkpoint-VM with the VM's own checkpoint type (the admin's choice),
 * named "Before patching <date> [Lifeboat]"; revert with Restore-VMSnapshot, discard with Remove-VMSnapshot. A live
 * checkpoint's disks can be opened in place (its files are read-only while it exists) to browse them.
 */
export function hypervSnapshots(ctx: HyperVContext): SnapshotCapability {
  return {
    async list(vmId, signal) {
      const { vm, snapshots } = await listing(ctx, vmId, signal)
      return snapshots.map((s) => detail(s, vm.ParentSnapshotId))
    },

    async create(vmId, options, signal) {
      throwIfAborted(signal, 'Creating the checkpoint')
      const expires = options.expiresAt !== undefined ? new Date(options.expiresAt) : undefined
      if (expires !== undefined && Number.isNaN(expires.getTime())) throw new AdapterError('NOT_SUPPORTED', `"${options.expiresAt?.slice(0, 60) ?? ''}" is not a time.`)
      const name = patchCheckpointName(options.label, new Date(), expires)
      // Names repeat (same label within a minute): the checkpoints that already carry it are never touched.
      const earlier = new Set((await listing(ctx, vmId, signal)).snapshots.filter((s) => s.Name === name).map((s) => s.Id))
      const ours = async (s: AbortSignal) => (await listing(ctx, vmId, s)).snapshots.filter((c) => c.Name === name && !earlier.has(c.Id))
      // Until the admin gets it, a failure or cancel removes the new checkpoint again — also one Hyper-V finished
      // after Lifeboat stopped waiting, which is why the removal is registered before and looks it up by name.
      return await withUndo(signal, async (undo) => {
        const made = undo.push(`remove the new checkpoint "${name}"`, async (s) => {
          for (const c of await ours(s)) await removeCheckpoint(ctx, c.Id, s)
        })
        await ctx.runner(ps`${vmVariable(vmId)}\nHyper-V\\Checkpoint-VM -VM $vm -SnapshotName ${name}`, { signal: AbortSignal.timeout(30 * 60_000), what: 'Creating the checkpoint', timeoutMs: 30 * 60_000 })
        throwIfAborted(signal, 'Creating the checkpoint')
        const { vm, snapshots } = await listing(ctx, vmId, signal)
        const mine = snapshots.filter((s) => s.Name === name && !earlier.has(s.Id))[0]
        if (!mine) throw new AdapterError('BAD_RESPONSE', `Checkpoint-VM succeeded but "${name}" is not there.`)
        made.done()
        return detail(mine, vm.ParentSnapshotId)
      })
    },

    async revert(vmId, snapshotId, options, signal) {
      const snap = await find(ctx, vmId, snapshotId, signal)
      await ctx.runner(ps`$s = Hyper-V\\Get-VMSnapshot -Id ${snap.Id}\nHyper-V\\Restore-VMSnapshot -VMSnapshot $s -Confirm:$false`, { signal: AbortSignal.timeout(30 * 60_000), what: 'Reverting to the checkpoint', timeoutMs: 30 * 60_000 })
      const state = (await vmState(ctx.runner, vmId, signal)).State
      const start = options.start ?? snap.State === 'Saved'
      if (start && state !== 'Running') await startVm(ctx.runner, vmId, signal)
      if (!start && state === 'Saved') await turnOffVm(ctx.runner, vmId, signal)
    },

    async remove(vmId, snapshotId, signal) {
      const snap = await find(ctx, vmId, snapshotId, signal)
      await removeCheckpoint(ctx, snap.Id, signal)
    },

    async openDisks(vmId, snapshotId, signal): Promise<readonly BackupDisk[]> {
      const snap = await find(ctx, vmId, snapshotId, signal)
      const { drives, vhds } = await checkpointDrives(ctx, snap.Id, signal)
      return await openDisks(await ctx.connection(signal), drives.map((drive) => ({ drive, top: drive.Path ?? '' })), vhds, signal)
    },
  }
}
