import type { PowerState } from '../host-adapter'

/**
 * Hyper-V's VMState (Microsoft.HyperV.PowerShell.VMState, ENUMS.VMState in schemas.ts) as Lifeboat sees it. Every
 * state has a "Critical" twin (RunningCritical 32785 … FastSavingCritical 32796): the same state while Hyper-V cannot
 * use the VM's storage (its volume is full or unreachable; Hyper-V Manager shows "Running-Critical"). The members are
 * the module's own (its VMState enum and CriticalStateConverter, as decompiled in nforgeio/neonSDK
 * Lib/Neon.HyperV/HyperVWmiDriver/Microsoft/HyperV/PowerShell/VMState.cs; issue 22 point 7).
 */
export function isCritical(state: string): boolean {
  return state.endsWith('Critical')
}

/** Hyper-V's VMState names mapped to Lifeboat's power states (a critical state keeps its base state's meaning). */
export function hypervState(state: string): PowerState {
  const base = isCritical(state) ? state.slice(0, -'Critical'.length) : state
  switch (base) {
    case 'Running':
    case 'Starting':
    case 'Stopping':
    case 'Saving':
    case 'Pausing':
    case 'Resuming':
    case 'Reset':
    case 'FastSaving':
    case 'ForceShutdown':
    case 'ForceReboot':
      return 'running'
    case 'Off':
      return 'halted'
    case 'Paused':
      return 'paused'
    case 'Saved':
    case 'FastSaved':
    case 'Hibernated':
      return 'suspended'
    default:
      return 'unknown'
  }
}

/** A state in words for messages: "running", "fast saved", "running-critical (Hyper-V cannot use the VM's storage)". */
export function stateText(state: string): string {
  const critical = isCritical(state)
  const words = (critical ? state.slice(0, -'Critical'.length) : state).replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()
  return critical ? `${words}-critical (Hyper-V cannot use the VM's storage: its volume is full or unreachable)` : words
}
