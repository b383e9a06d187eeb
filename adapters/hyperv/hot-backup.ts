import { AdapterError, throwIfAborted, type BackupDisk, type BackupOptions, type BackupSession, type Consistency } from '../host-adapter'
import { cleanupSignal, UndoStack } from '../undo-stack'
import type { HyperVContext } from './context'
import { holdJobLock, type JobLock } from './job-lock'
import { waitForMerge } from './merge'
import { ps } from './powershell'
import { runJson } from './ps-runner'
import { beginRct, diskChanges, finishRct, rctToken } from './rct'
import { closeDisks, openDisks } from './readouts'
import { z } from 'zod'
import { DRIVE_FIELDS, DriveRecord, SNAPSHOT_FIELDS, SnapshotRecord, VhdErrorRecord, VhdRecord, arrayOf } from './schemas'
import { backupCheckpointName, type CheckpointTypeName } from './tags'
import { configOf } from './vm-config'
import { DRIVE_FILES, chainProblem, completeChainsReporting, raw, vhdScript, vmVariable, type VmDetails } from './vm-details'

/** Creating or merging a checkpoint is never interrupted half-way (VMMS would finish it anyway); it is bounded instead. */
const HOST_OP_MS = 30 * 60_000

export async function setCheckpointType(ctx: HyperVContext, vmId: string, type: CheckpointTypeName, signal: AbortSignal): Promise<void> {
  await ctx.runner(ps`${vmVariable(vmId)}\nHyper-V\\Set-VM -VM $vm -CheckpointType ${type}`, { signal, what: `Setting the checkpoint type to ${type}` })
}

export async function removeCheckpoint(ctx: HyperVContext, snapshotId: string, signal: AbortSignal): Promise<void> {
  let last: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const vmId = await runJson(ctx.runner, ps`$s = Hyper-V\\Get-VMSnapshot -Id ${snapshotId}\nHyper-V\\Remove-VMSnapshot -VMSnapshot $s -Confirm:$false\nConvertTo-Json -Compress -InputObject ([string]$s.VMId)`, z.string().max(64), { signal, what: 'Removing the checkpoint (merging it into the disks)', timeoutMs: HOST_OP_MS })
      // Hyper-V merges in the background after Remove-VMSnapshot returns: whatever comes next (Set-VM, the next
      // checkpoint, reading the files) waits until the disks are settled.
      await waitForMerge(ctx.runner, vmId, signal, { maxMs: HOST_OP_MS, what: 'Removing the checkpoint' })
      return
    } catch (err) {
      last = err
      // A merge still running from a previous checkpoint makes Hyper-V refuse for a moment.
      if (!(err instanceof AdapterError) || err.params.reason !== 'invalid-state') throw err
      await new Promise((r) => setTimeout(r, 2000))
    }
  }
  throw last
}

async function snapshotsOf(ctx: HyperVContext, vmId: string, signal: AbortSignal): Promise<SnapshotRecord[]> {
  return await runJson(ctx.runner, ps`${vmVariable(vmId)}\nConvertTo-Json -Compress -Depth 3 -InputObject @(Hyper-V\\Get-VMSnapshot -VM $vm | Select-Object ${raw(SNAPSHOT_FIELDS)})`, arrayOf(SnapshotRecord, 2000), { signal, what: 'Listing checkpoints' })
}

const CheckpointDisks = z.object({ drives: arrayOf(DriveRecord, 256), vhds: arrayOf(VhdRecord, 256), vhdErrors: arrayOf(VhdErrorRecord, 256) })

/** The drives of a checkpoint (the files it froze, read-only now) and their VHD chains. */
export async function checkpointDrives(ctx: HyperVContext, snapshotId: string, signal: AbortSignal): Promise<{ drives: DriveRecord[]; vhds: Map<string, VhdRecord> }> {
  const script = ps`$s = Hyper-V\\Get-VMSnapshot -Id ${snapshotId}
$drives = @(Hyper-V\\Get-VMHardDiskDrive -VMSnapshot $s)
${vhdScript(DRIVE_FILES)}
[pscustomobject]@{
  drives = @($drives | Select-Object ${raw(DRIVE_FIELDS)})
  vhds = $vhds
  vhdErrors = $vhdErrors
} | ConvertTo-Json -Depth 4 -Compress`
  const found = await runJson(ctx.runner, script, CheckpointDisks, { signal, what: 'Reading the disks of the checkpoint' })
  const { vhds, errors } = await completeChainsReporting(ctx.runner, found.vhds, found.vhdErrors, signal)
  for (const drive of found.drives) {
    const problem = chainProblem(vhds, errors, drive)
    if (problem !== undefined) throw new AdapterError('COMMAND_FAILED', `The checkpoint's disks cannot be read: ${problem}`, { reason: 'disk-unreadable' })
  }
  return { drives: found.drives, vhds }
}

/**
 * Hot backup: a checkpoint freezes the disks (production = VSS/fsfreeze inside the guest when it works), Lifeboat
 * reads the now read-only files the checkpoint holds, and the checkpoint is always removed again (Hyper-V merges the
 * changes made meanwhile back into the disks). The checkpoint type is set for the job as needed and put back after.
 * Each change on the host registers its undo on the backup's stack right after it is made (or right before, where
 * the undo is harmless and the change may land although its answer is lost); a failure or cancel unwinds the stack,
 * and so does finish().
 */
export async function hotBackup(ctx: HyperVContext, d: VmDetails, options: BackupOptions, signal: AbortSignal): Promise<BackupSession> {
  const vmId = d.vm.Id
  const original = d.vm.CheckpointType as CheckpointTypeName
  const wanted: CheckpointTypeName = !options.quiesce ? 'Standard' : options.quiesceRequired === true ? 'ProductionOnly' : 'Production'
  const change = original !== wanted
  const name = backupCheckpointName(options.jobId, change ? original : undefined)
  const wasRunning = d.vm.State === 'Running' || d.vm.State === 'Paused'
  // VSS runs inside the guest, and a paused guest runs nothing: its checkpoint holds the disks as they are, never
  // quiesced, whatever checkpoint type or State Hyper-V reports for it (issue 22 point 6).
  const paused = d.vm.State === 'Paused'
  if (paused && options.quiesce && options.quiesceRequired === true) {
    throw new AdapterError('NOT_SUPPORTED', `${d.vm.Name} is paused, so its applications cannot be quiesced (VSS runs inside the guest), and this backup requires that. Resume the VM, or allow crash-consistent backups.`, { reason: 'vm-paused' })
  }
  const undo = new UndoStack()
  const left = (what: string, err: unknown) => `${what}: ${err instanceof Error ? err.message : String(err)}`
  try {
    const conn = await ctx.connection(signal)
    const lock: JobLock = await holdJobLock(conn, await ctx.executable(signal), ctx.runner, options.jobId, signal)
    undo.push('release the job lock', () => lock.release())
    if (!lock.held) options.log('warn', 'Could not mark this job as running on the host; a Lifeboat cleaning up elsewhere might remove its checkpoint early.')
    if (change) {
      options.phase('preparing', `checkpoint type ${wanted} for this backup (the VM has ${original})`)
      // Putting the type back is harmless when it never changed, so the undo comes first: Set-VM is not interrupted
      // half-way (like every change on the host), but its answer can still be lost.
      undo.push(`set the checkpoint type of ${d.vm.Name} back to ${original}`, async (s) => {
        try {
          await setCheckpointType(ctx, vmId, original, s)
          options.log('info', `Set the checkpoint type of ${d.vm.Name} back to ${original}.`)
          return undefined
        } catch (err) {
          return left(`${d.vm.Name} still has checkpoint type ${wanted} (it was ${original})`, err)
        }
      })
      await setCheckpointType(ctx, vmId, wanted, AbortSignal.timeout(HOST_OP_MS))
    }
    throwIfAborted(signal, 'The backup')
    // RCT (when switched on): the reference point comes first, so it is never later than what the checkpoint freezes.
    const rct = await beginRct(ctx, d, options, undo, signal)
    options.phase('creating checkpoint', wanted === 'Standard' ? 'standard checkpoint' : 'production checkpoint (VSS / fsfreeze in the guest)')
    // A checkpoint Hyper-V finishes after the answer was lost is found by its name (unique per job), so the removal
    // is registered before Checkpoint-VM and looks the checkpoint up when it runs.
    undo.push(`remove the checkpoint "${name}" of ${d.vm.Name}`, async (s) => {
      const out: string[] = []
      for (const c of (await snapshotsOf(ctx, vmId, s)).filter((x) => x.Name === name)) {
        try {
          await removeCheckpoint(ctx, c.Id, s)
          options.log('info', `Removed the checkpoint "${name}" of ${d.vm.Name}; Hyper-V merged it into the disks.`)
        } catch (err) {
          out.push(left(`Checkpoint "${name}" of ${d.vm.Name} (remove it in Hyper-V Manager, or run "lifeboat leftovers clean")`, err))
        }
      }
      return out
    })
    await ctx.runner(ps`${vmVariable(vmId)}\nHyper-V\\Checkpoint-VM -VM $vm -SnapshotName ${name}`, { signal: AbortSignal.timeout(HOST_OP_MS), what: 'Creating the checkpoint', timeoutMs: HOST_OP_MS })
    throwIfAborted(signal, 'The backup')
    const made = (await snapshotsOf(ctx, vmId, signal)).filter((c) => c.Name === name)
    const snap = made[0]
    if (snap === undefined || made.length !== 1) throw new AdapterError('BAD_RESPONSE', `Checkpoint-VM succeeded but the checkpoint "${name}" is ${made.length === 0 ? 'not there' : 'there twice'}.`)
    const snapshotId = snap.Id

    // A checkpoint holding the memory (State Saved) is a standard one: production failed and Hyper-V fell back.
    const withMemory = snap.State === 'Saved'
    const consistency: Consistency = !wasRunning ? (d.vm.State === 'Off' ? 'offline' : 'crash') : wanted !== 'Standard' && !withMemory && !paused ? 'app' : 'crash'
    if (paused && options.quiesce) {
      options.log('warn', `${d.vm.Name} is paused: VSS inside a paused guest cannot quiesce its applications, so this restore point is crash-consistent. Resume the VM for an application-consistent one.`)
    } else if (wasRunning && options.quiesce && consistency === 'crash') {
      options.log('warn', `The production checkpoint of ${d.vm.Name} could not be made (no VSS/fsfreeze answer from the guest); Hyper-V made a standard checkpoint instead. This restore point is crash-consistent.`)
    }
    const { drives, vhds } = await checkpointDrives(ctx, snapshotId, signal)
    options.phase('reading', 'the disks as the checkpoint froze them')
    let disks = await openDisks(conn, drives.map((drive) => ({ drive, top: drive.Path ?? '' })), vhds, signal)
    undo.push('close the disk readers', () => closeDisks(disks))
    if (rct !== undefined) {
      const session = rct
      const livePaths = new Map(d.drives.map((dr) => [`${dr.ControllerType}${dr.ControllerNumber}:${dr.ControllerLocation}`, dr.Path ?? '']))
      const withChanges: BackupDisk[] = []
      for (const disk of disks) {
        const readout = disk.readout
        const drivePath = livePaths.get(disk.id)
        if (readout.kind !== 'file' || drivePath === undefined) {
          withChanges.push(disk)
          continue
        }
        const changes = await diskChanges(ctx, session, { id: disk.id, name: disk.name, drivePath, frozenPath: readout.file.path, size: disk.sizeBytes }, options, signal)
        if (changes.ranges !== undefined) withChanges.push({ ...disk, readout: { ...readout, changedRanges: changes.ranges } })
        else withChanges.push(changes.fullReason !== undefined ? { ...disk, fullReason: changes.fullReason } : disk)
      }
      disks = withChanges
    }
    let finished: Promise<{ leftBehind: string[] }> | undefined
    return {
      consistency,
      vmConfig: configOf(d),
      disks,
      // Without RCT every backup reads whole disks and the repository stores only chunks it does not have
      // (hash-and-dedup); with RCT (rct.ts, behind a flag) only the ranges Hyper-V reports as changed are read.
      incrementalToken: rctToken(rct, disks.length),
      finish(finishSignal, outcome) {
        finished ??= (async () => {
          await finishRct(ctx, rct, outcome?.committed === true, options, finishSignal)
          return { leftBehind: await undo.unwind(finishSignal) }
        })()
        return finished
      },
    }
  } catch (err) {
    for (const l of await undo.unwind(cleanupSignal(signal, HOST_OP_MS))) options.log('error', l)
    throw err
  }
}
