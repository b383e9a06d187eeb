import { z } from 'zod'
import { AdapterError, isAdapterError, throwIfAborted } from '../host-adapter'
import { ps } from './powershell'
import { runJson, type PowerShellRunner } from './ps-runner'
import { VmRecord } from './schemas'
import { raw, vmVariable } from './vm-details'

const StateOnly = z.object({ State: VmRecord.shape.State, CheckpointType: VmRecord.shape.CheckpointType })

export async function vmState(runner: PowerShellRunner, vmId: string, signal: AbortSignal): Promise<z.infer<typeof StateOnly>> {
  return await runJson(runner, ps`${vmVariable(vmId)}\n$vm | Select-Object ${raw('State, CheckpointType')} | ConvertTo-Json -Compress`, StateOnly, { signal, what: 'Reading the VM state', timeoutMs: 60_000 })
}

export async function startVm(runner: PowerShellRunner, vmId: string, signal: AbortSignal): Promise<void> {
  await runner(ps`${vmVariable(vmId)}\nHyper-V\\Start-VM -VM $vm`, { signal, what: 'Starting the VM', timeoutMs: 600_000 })
}

export async function saveVm(runner: PowerShellRunner, vmId: string, signal: AbortSignal): Promise<void> {
  await runner(ps`${vmVariable(vmId)}\nHyper-V\\Save-VM -VM $vm`, { signal, what: 'Saving the VM (suspending it to disk)', timeoutMs: 1_800_000 })
}

export async function turnOffVm(runner: PowerShellRunner, vmId: string, signal: AbortSignal): Promise<void> {
  await runner(ps`${vmVariable(vmId)}\nHyper-V\\Stop-VM -VM $vm -TurnOff -Force`, { signal, what: 'Turning the VM off', timeoutMs: 300_000 })
}

/** Waits (polling) until the VM is in one of `states`; false when it is not within `ms`. */
export async function waitForState(runner: PowerShellRunner, vmId: string, states: readonly string[], ms: number, signal: AbortSignal): Promise<boolean> {
  const until = Date.now() + ms
  for (;;) {
    if (states.includes((await vmState(runner, vmId, signal)).State)) return true
    if (Date.now() >= until) return false
    throwIfAborted(signal, 'Waiting for the VM')
    await new Promise((r) => setTimeout(r, 500))
  }
}

/**
 * A clean shutdown through the guest's Shutdown integration service (Stop-VM -Force: applications do not get to veto
 * it, but the guest OS shuts down properly). When it does not finish within `timeoutMs`, or the guest has no
 * shutdown service, the VM is turned off only when the admin chose that; otherwise the backup fails and says so.
 */
export async function shutDown(runner: PowerShellRunner, vmId: string, options: { timeoutMs: number; forceOff: boolean; log: (level: 'info' | 'warn', m: string) => void }, signal: AbortSignal): Promise<'clean' | 'turned-off'> {
  const seconds = Math.round(options.timeoutMs / 1000)
  let failure: AdapterError
  try {
    await runner(ps`${vmVariable(vmId)}\nHyper-V\\Stop-VM -VM $vm -Force`, { signal, what: 'Shutting the VM down', timeoutMs: options.timeoutMs })
    return 'clean'
  } catch (err) {
    throwIfAborted(signal, 'The shutdown')
    if (!isAdapterError(err) || !(err.code === 'CONNECTION_TIMEOUT' || (err.code === 'COMMAND_FAILED' && err.params.psCommand === 'Stop-VM'))) throw err
    failure = err
  }
  const timedOut = failure.code === 'CONNECTION_TIMEOUT'
  if ((await vmState(runner, vmId, signal)).State === 'Off') return 'clean'
  const why = timedOut ? `did not shut down within ${seconds} s` : `could not be shut down through its Shutdown integration service (${failure.message})`
  if (!options.forceOff) {
    throw new AdapterError('COMMAND_FAILED', `The VM ${why}. Lifeboat did not turn it off, because that was not chosen for this backup; Hyper-V may still finish the shutdown.`, { reason: timedOut ? 'shutdown-timeout' : 'shutdown-unavailable' })
  }
  options.log('warn', `The VM ${why}; turning it off as chosen for this backup (like pulling the power: the restore point is crash-consistent).`)
  try {
    await turnOffVm(runner, vmId, signal)
  } catch (err) {
    if ((await vmState(runner, vmId, signal)).State !== 'Off') throw err
  }
  return 'turned-off'
}
