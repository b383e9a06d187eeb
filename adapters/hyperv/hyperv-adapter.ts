import { z } from 'zod'
import {
  AdapterError,
  isAdapterError,
  type AdapterOptions,
  type BackupCapability,
  type GuestFilesCapability,
  type HealthCheckCapability,
  type HostAdapter,
  type HostIdentity,
  type Inventory,
  type ReconcileCapability,
  type RestoreCapability,
  type SnapshotCapability,
} from '../host-adapter'
import { SshConnectionHolder } from '../ssh/ssh-adapter-base'
import { hypervBackup } from './backup'
import type { HyperVContext } from './context'
import { hypervGuestFiles } from './guest-files'
import { hypervHealthCheck } from './health-check'
import { readInventory } from './inventory'
import { ps, type PowerShellExe } from './powershell'
import { runJson, sshRunner, type PowerShellRunner } from './ps-runner'
import { rctFromEnv } from './rct'
import { hypervReconcile } from './reconcile'
import { hypervRestore } from './restore'
import { hypervSnapshots } from './snapshots'

export { hypervState } from './inventory'
export type { PowerShellRunner } from './ps-runner'

const IdentitySchema = z.object({ hostname: z.string().max(300), os: z.string().max(300).nullish(), version: z.string().max(100).nullish(), ps: z.string().max(100).nullish(), hyperv: z.boolean() })

export interface HyperVAdapterOptions {
  /** Runs scripts instead of SSH (unit tests). */
  readonly runner?: PowerShellRunner
  /** Which PowerShell to start; default: Windows PowerShell, falling back to pwsh when the host has no powershell.exe. */
  readonly powershell?: PowerShellExe
  /**
   * Resilient Change Tracking incrementals for hot backups (WMI reference points, GetVirtualDiskChanges). Default: the
   * environment variable LIFEBOAT_HYPERV_RCT=1 when the adapter is constructed, else off. Verified only against the
   * simulator so far.
   */
  readonly rct?: boolean
}

/**
 * Hyper-V hosts through PowerShell over Windows OpenSSH: inventory, cold/warm/hot backups read with Lifeboat's own
 * VHDX/VHD reader over SFTP, "snapshot before patching", browsing live checkpoints, restores, leftovers.
 */
export class HyperVAdapter implements HostAdapter {
  readonly kind = 'hyperv' as const
  private readonly ssh: SshConnectionHolder
  private exe: PowerShellExe | undefined
  private readonly ctx: HyperVContext
  readonly backup: BackupCapability
  readonly snapshots: SnapshotCapability
  readonly restore: RestoreCapability
  readonly reconcile: ReconcileCapability
  readonly guestFiles: GuestFilesCapability
  readonly healthCheck: HealthCheckCapability

  constructor(
    options: AdapterOptions,
    private readonly extra: HyperVAdapterOptions = {},
  ) {
    this.ssh = new SshConnectionHolder(options)
    const direct = sshRunner((signal) => this.ssh.get(signal), () => this.exe ?? extra.powershell ?? 'powershell.exe')
    const runner: PowerShellRunner = extra.runner ?? (async (script, o) => {
      await this.executable(o.signal)
      return await direct(script, o)
    })
    this.ctx = {
      runner,
      connection: (signal) => this.ssh.get(signal),
      executable: (signal) => this.executable(signal),
      rct: extra.rct ?? rctFromEnv(),
    }
    this.backup = hypervBackup(this.ctx)
    this.snapshots = hypervSnapshots(this.ctx)
    this.restore = hypervRestore(this.ctx)
    this.reconcile = hypervReconcile(this.ctx)
    this.guestFiles = hypervGuestFiles(this.ctx)
    this.healthCheck = hypervHealthCheck(this.ctx)
  }

  /** Finds out once which PowerShell the host has (powershell.exe unless told otherwise; pwsh when that is missing). */
  private async executable(signal: AbortSignal): Promise<PowerShellExe> {
    if (this.exe !== undefined || this.extra.runner !== undefined) return this.exe ?? this.extra.powershell ?? 'powershell.exe'
    const first = this.extra.powershell ?? 'powershell.exe'
    for (const exe of [first, first === 'pwsh' ? 'powershell.exe' : 'pwsh'] as const) {
      try {
        await sshRunner((s) => this.ssh.get(s), () => exe)(ps`'probe' | ConvertTo-Json -Compress`, { signal, what: `Starting ${exe}`, timeoutMs: 60_000 })
        this.exe = exe
        return exe
      } catch (err) {
        if (!(isAdapterError(err) && err.params.reason === 'no-powershell')) throw err
      }
    }
    throw new AdapterError('NOT_SUPPORTED', 'The host has neither Windows PowerShell (powershell.exe) nor PowerShell 7 (pwsh) on its PATH. Is this a Windows host with OpenSSH?')
  }

  async connect(signal: AbortSignal): Promise<HostIdentity> {
    const conn = this.extra.runner ? undefined : await this.ssh.get(signal)
    let id: z.infer<typeof IdentitySchema>
    try {
      id = await runJson(
        this.ctx.runner,
        ps`$os = CimCmdlets\\Get-CimInstance -ClassName Win32_OperatingSystem
[pscustomobject]@{ hostname = $env:COMPUTERNAME; os = $os.Caption; version = $os.Version; ps = $PSVersionTable.PSVersion.ToString(); hyperv = $null -ne (Get-Command -Name 'Get-VM' -Module 'Hyper-V' -ErrorAction SilentlyContinue) } | ConvertTo-Json -Compress`,
        IdentitySchema,
        { signal, what: 'Asking the host who it is', timeoutMs: 120_000 },
      )
    } catch (err) {
      if (isAdapterError(err) && (err.code === 'BAD_RESPONSE' || err.code === 'COMMAND_FAILED')) {
        throw new AdapterError('BAD_RESPONSE', `The host did not answer like Windows PowerShell does. Is this a Windows host with OpenSSH? (${err.message})`, {}, { cause: err })
      }
      throw err
    }
    if (!id.hyperv) throw new AdapterError('NOT_SUPPORTED', `${id.hostname} has no Hyper-V PowerShell module (Get-VM). Install the Hyper-V role or RSAT-Hyper-V-Tools.`)
    return {
      hostname: id.hostname,
      ...(id.os ? { os: id.os } : {}),
      ...(id.version ? { version: id.version } : {}),
      fingerprint: conn?.fingerprint ?? '',
      fingerprintType: conn?.keyType ?? '',
    }
  }

  async inventory(signal: AbortSignal): Promise<Inventory> {
    const { powershell: _ps, ...inventory } = await readInventory(this.ctx.runner, signal)
    return inventory
  }

  async close(): Promise<void> {
    await this.ssh.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

export function createHyperVAdapter(options: AdapterOptions): HostAdapter {
  return new HyperVAdapter(options)
}
