import { AdapterError, throwIfAborted, type BackupCapability, type BackupOptions, type BackupSession, type Consistency, type ModeSupport } from '../host-adapter'
import { cleanupSignal, UndoStack } from '../undo-stack'
import type { HyperVContext } from './context'
import { hotBackup } from './hot-backup'
import { isMerging, waitForMerge } from './merge'
import { findService, serviceOk } from './integration-services'
import { saveVm, shutDown, startVm, vmState, waitForState } from './power'
import { closeDisks, openDisks } from './readouts'
import { checkJobId } from './tags'
import { configOf } from './vm-config'
import { chainProblem, describeVm, type VmDetails } from './vm-details'
import { stateText } from './vm-state'

const RUNNING = ['Running', 'Paused']

/** Why no mode can work for this VM at all (no disks, pass-through disks, shared VHD Sets), or undefined. */
function diskProblem(d: VmDetails): string | undefined {
  if (d.drives.length === 0) return 'The VM has no virtual hard disks.'
  for (const dr of d.drives) {
    const problem = chainProblem(d.vhds, d.vhdErrors, dr)
    if (problem !== undefined) return problem
  }
  for (const v of d.vhds.values()) if (v.VhdFormat !== 'VHD' && v.VhdFormat !== 'VHDX') return `${v.Path} is a ${v.VhdFormat}; shared VHD Sets cannot be read by Lifeboat.`
  if (d.drives.some((dr) => !/^[A-Za-z]:[\\/]/.test(dr.Path ?? ''))) return 'A disk of the VM is on a network share (UNC path), which Lifeboat cannot read over SFTP.'
  return undefined
}

function productionLikely(d: VmDetails): boolean {
  return serviceOk(findService(d.integration, 'vss'))
}

export function modesFor(d: VmDetails): ModeSupport[] {
  const problem = diskProblem(d)
  const state = d.vm.State
  const running = RUNNING.includes(state)
  const off = state === 'Off'
  const stable = running || off || state === 'Saved'
  const unstable = `The VM is ${stateText(state)}; wait until it is running, off or saved.`
  const cold: ModeSupport = problem
    ? { mode: 'cold', available: false, reason: problem, downtime: 'shutdown', consistency: 'offline' }
    : state === 'Saved' || state === 'Paused'
      ? { mode: 'cold', available: false, reason: `The VM is ${stateText(state)}: its guest was not shut down. Start it (or use a warm backup) first.`, downtime: 'shutdown', consistency: 'offline' }
      : !stable
        ? { mode: 'cold', available: false, reason: unstable, downtime: 'shutdown', consistency: 'offline' }
        : { mode: 'cold', available: true, downtime: running ? 'shutdown' : 'none', consistency: 'offline' }
  const warm: ModeSupport = problem
    ? { mode: 'warm', available: false, reason: problem, downtime: 'pause', consistency: 'crash' }
    : !stable
      ? { mode: 'warm', available: false, reason: unstable, downtime: 'pause', consistency: 'crash' }
      : { mode: 'warm', available: true, downtime: running ? 'pause' : 'none', consistency: off ? 'offline' : 'crash' }
  // A paused guest cannot run VSS: its checkpoints are never application-consistent.
  const hotConsistency: Consistency = off ? 'offline' : state === 'Running' && productionLikely(d) && d.vm.CheckpointType !== 'Standard' ? 'app' : 'crash'
  const hot: ModeSupport = problem
    ? { mode: 'hot', available: false, reason: problem, downtime: 'none', consistency: hotConsistency }
    : d.vm.CheckpointType === 'Disabled'
      ? { mode: 'hot', available: false, reason: 'Checkpoints are disabled for this VM (Hyper-V Manager → Settings → Checkpoints, or Set-VM -CheckpointType Production).', downtime: 'none', consistency: hotConsistency }
      : !stable
        ? { mode: 'hot', available: false, reason: unstable, downtime: 'none', consistency: hotConsistency }
        : { mode: 'hot', available: true, downtime: 'none', consistency: hotConsistency }
  return [cold, warm, hot]
}

/** Reads the VM's current disks (cold and warm: the VM is off or saved, so its files are closed); finish() unwinds `undo`. */
async function fileSession(ctx: HyperVContext, d: VmDetails, consistency: Consistency, undo: UndoStack, signal: AbortSignal): Promise<BackupSession> {
  const conn = await ctx.connection(signal)
  const disks = await openDisks(conn, d.drives.map((drive) => ({ drive, top: drive.Path ?? '' })), d.vhds, signal)
  undo.push('close the disk readers', () => closeDisks(disks))
  let finished: Promise<{ leftBehind: string[] }> | undefined
  return {
    consistency,
    vmConfig: configOf(d),
    disks,
    finish(finishSignal) {
      finished ??= undo.unwind(finishSignal).then((leftBehind) => ({ leftBehind }))
      return finished
    },
  }
}

/** Starts the VM again if it is off (or saved) now; what could not be done, in words. */
async function restart(ctx: HyperVContext, vmId: string, name: string, signal: AbortSignal): Promise<string[]> {
  // A shutdown Lifeboat gave up on may still complete: wait briefly for a settled state before deciding.
  await waitForState(ctx.runner, vmId, ['Off', 'Saved', 'Running'], 15_000, signal).catch(() => false)
  const state = (await vmState(ctx.runner, vmId, signal)).State
  if (state === 'Running') return []
  if (state !== 'Off' && state !== 'Saved') return [`${name} is ${stateText(state)}; Lifeboat did not start it again.`]
  try {
    await startVm(ctx.runner, vmId, signal)
    return []
  } catch (err) {
    return [`${name} was left ${stateText(state)}: starting it failed (${err instanceof Error ? err.message : String(err)}).`]
  }
}

export function hypervBackup(ctx: HyperVContext): BackupCapability {
  return {
    async modes(vmId, signal) {
      return modesFor(await describeVm(ctx.runner, vmId, signal))
    },

    async begin(vmId: string, options: BackupOptions, signal: AbortSignal): Promise<BackupSession> {
      checkJobId(options.jobId)
      let d = await describeVm(ctx.runner, vmId, signal)
      if (isMerging(d.vm)) {
        // A checkpoint removed just before (by Lifeboat or the admin) is still being merged into the disk files.
        options.phase('waiting', 'Hyper-V is merging disks')
        await waitForMerge(ctx.runner, vmId, signal, { log: options.log, what: 'The backup' })
        d = await describeVm(ctx.runner, vmId, signal)
      }
      const mode = modesFor(d).find((m) => m.mode === options.mode)
      if (mode?.available !== true) throw new AdapterError('NOT_SUPPORTED', `A ${options.mode} backup of ${d.vm.Name} is not possible: ${mode?.reason ?? 'unknown mode'}`)
      if (options.mode === 'hot') return await hotBackup(ctx, d, options, signal)
      const running = RUNNING.includes(d.vm.State)
      const undo = new UndoStack()
      // Starting the VM again checks its state first, so it is registered before Stop-VM / Save-VM: a shutdown or
      // save Lifeboat gave up on (timeout, cancel, lost answer) may still complete on the host.
      const startAgain = () => undo.push(`start ${d.vm.Name} again`, (s) => restart(ctx, vmId, d.vm.Name, s))
      try {
        let consistency: Consistency
        if (options.mode === 'cold') {
          consistency = 'offline'
          if (running) {
            options.phase('shutting down', `asking the guest to shut down (up to ${Math.round(options.shutdownTimeoutMs / 1000)} s)`)
            startAgain()
            const how = await shutDown(ctx.runner, vmId, { timeoutMs: options.shutdownTimeoutMs, forceOff: options.forceOffAfterTimeout, log: options.log }, signal)
            throwIfAborted(signal, 'The backup')
            options.log('info', how === 'clean' ? `${d.vm.Name} shut down cleanly.` : `${d.vm.Name} was turned off.`)
            consistency = how === 'clean' ? 'offline' : 'crash'
          }
        } else {
          consistency = running ? 'crash' : d.vm.State === 'Off' ? 'offline' : 'crash'
          if (running) {
            options.phase('saving', 'suspending the VM to disk (Save-VM)')
            startAgain()
            await saveVm(ctx.runner, vmId, signal)
            throwIfAborted(signal, 'The backup')
          }
        }
        return await fileSession(ctx, d, consistency, undo, signal)
      } catch (err) {
        for (const l of await undo.unwind(cleanupSignal(signal))) options.log('error', l)
        throw err
      }
    },
  }
}
