import { z } from 'zod'
import { AdapterError, throwIfAborted } from '../host-adapter'
import { ps } from './powershell'
import { runJson, type PowerShellRunner } from './ps-runner'
import { VmRecord } from './schemas'
import { raw, vmVariable } from './vm-details'

/**
 * Background merges. Remove-VMSnapshot returns as soon as the checkpoint is out of the tree; Hyper-V then merges its
 * AVHDX into the parent file in the background, for seconds to hours, while the VM shows Status "Merging disks" and
 * OperationalStatus MergingDisks (32772; Msvm_ComputerSystem.OperationalStatus[1] in WMI, VMOperationalStatus in the
 * Hyper-V module). Until it ends the disk files are being rewritten: nothing that needs settled disks (a checkpoint,
 * Set-VM, reading an Off or Saved VM's files, replacing them in place) may start. Admin scripts poll Get-VM for it
 * (issue 22 point 1); Lifeboat does the same, bounded and cancellable.
 */

const MergeState = z.object({ Name: VmRecord.shape.Name, Status: VmRecord.shape.Status, OperationalStatus: VmRecord.shape.OperationalStatus, SecondaryOperationalStatus: VmRecord.shape.SecondaryOperationalStatus })
type MergeState = z.infer<typeof MergeState>

export function isMerging(vm: Pick<VmRecord, 'OperationalStatus' | 'SecondaryOperationalStatus'>): boolean {
  return vm.SecondaryOperationalStatus === 'MergingDisks' || (vm.OperationalStatus ?? []).includes('MergingDisks')
}

export interface MergeWaitOptions {
  /** How long to wait at most (default 30 minutes). */
  readonly maxMs?: number
  readonly pollMs?: number
  readonly log?: (level: 'info' | 'warn', message: string) => void
  /** What waits, for the error ("The backup", "The restore"). */
  readonly what?: string
}

async function mergeState(runner: PowerShellRunner, vmId: string, signal: AbortSignal): Promise<MergeState> {
  return await runJson(runner, ps`${vmVariable(vmId)}\n$vm | Select-Object ${raw('Name, Status, OperationalStatus, SecondaryOperationalStatus')} | ConvertTo-Json -Compress`, MergeState, { signal, what: 'Reading whether Hyper-V is merging disks', timeoutMs: 60_000 })
}

/**
 * Returns once the VM's disks are not being merged. A merge still running after `maxMs` fails with COMMAND_FAILED
 * (reason merge-in-progress) saying so; a cancel stops the waiting at once (the merge itself goes on, as Hyper-V's own).
 */
export async function waitForMerge(runner: PowerShellRunner, vmId: string, signal: AbortSignal, options: MergeWaitOptions = {}): Promise<void> {
  const maxMs = options.maxMs ?? 30 * 60_000
  const pollMs = options.pollMs ?? 1000
  const started = Date.now()
  let lastLog = 0
  for (;;) {
    const state = await mergeState(runner, vmId, signal)
    if (!isMerging(state)) {
      if (lastLog > 0) options.log?.('info', `Hyper-V finished merging the disks of ${state.Name} after ${Math.round((Date.now() - started) / 1000)} s.`)
      return
    }
    const waited = Date.now() - started
    if (waited >= maxMs) {
      throw new AdapterError('COMMAND_FAILED', `${options.what ?? 'Lifeboat'} did not start: Hyper-V is still merging the disks of ${state.Name} after ${Math.round(waited / 60_000)} min (${state.Status ?? 'Merging disks'}), and their files must not be read or changed until it is done. Try again once Hyper-V Manager no longer shows "Merging disks".`, { reason: 'merge-in-progress' })
    }
    if (lastLog === 0 || Date.now() - lastLog >= 30_000) {
      options.log?.('info', `Hyper-V is merging the disks of ${state.Name} (${state.Status ?? 'Merging disks'}); waiting until it is done before touching them.`)
      lastLog = Date.now()
    }
    throwIfAborted(signal, options.what ?? 'Waiting for the merge')
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, pollMs)
      signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true })
    })
    throwIfAborted(signal, options.what ?? 'Waiting for the merge')
  }
}
