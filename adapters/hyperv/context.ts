import type { SshConnection } from '../ssh/ssh-connection'
import type { PowerShellExe } from './powershell'
import type { PowerShellRunner } from './ps-runner'

/** What the Hyper-V capabilities share: the PowerShell runner and the SSH connection it runs on. */
export interface HyperVContext {
  readonly runner: PowerShellRunner
  connection(signal: AbortSignal): Promise<SshConnection>
  /** The PowerShell the host answered with (powershell.exe or pwsh). */
  executable(signal: AbortSignal): Promise<PowerShellExe>
  /** Resilient Change Tracking incrementals for hot backups (rct.ts); off unless switched on. */
  readonly rct?: boolean
}
