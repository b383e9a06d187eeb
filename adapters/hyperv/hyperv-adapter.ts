import { z } from 'zod'
import {
  AdapterError,
  type AdapterDescription,
  type AdapterOptions,
  type HostAdapter,
  type HostIdentity,
  type Inventory,
  type PowerState,
} from '../host-adapter'
import { SshConnectionHolder } from '../ssh/ssh-adapter-base'
import { encodedCommand, jsonArray, ps } from './powershell'

const IdentitySchema = z.object({ hostname: z.string(), os: z.string().nullish(), version: z.string().nullish() })
const VmSchema = z.object({
  Id: z.string(),
  Name: z.string(),
  State: z.string(),
  ProcessorCount: z.number().nullish(),
  MemoryStartup: z.number().nullish(),
})

/** Hyper-V's VMState names (Microsoft.HyperV.PowerShell.VMState) mapped to Lifeboat's power states. */
export function hypervState(state: string): PowerState {
  switch (state) {
    case 'Running':
    case 'Starting':
    case 'Stopping':
    case 'Saving':
    case 'Pausing':
    case 'Resuming':
    case 'Reset':
      return 'running'
    case 'Off':
      return 'halted'
    case 'Paused':
      return 'paused'
    case 'Saved':
      return 'suspended'
    default:
      return 'unknown'
  }
}

export type PowerShellRunner = (script: ReturnType<typeof ps>, signal: AbortSignal) => Promise<string>

/**
 * Hyper-V hosts through PowerShell over Windows OpenSSH. This is the connection, identity and the VM list;
 * checkpoints, backups, restores and the rest come with the Hyper-V work.
 */
export class HyperVAdapter implements HostAdapter {
  readonly kind = 'hyperv' as const
  private readonly ssh: SshConnectionHolder

  constructor(
    options: AdapterOptions,
    private readonly runner?: PowerShellRunner,
  ) {
    this.ssh = new SshConnectionHolder(options)
  }

  private async powershell(script: ReturnType<typeof ps>, signal: AbortSignal): Promise<string> {
    if (this.runner) return await this.runner(script, signal)
    const conn = await this.ssh.get(signal)
    const result = await conn.exec(encodedCommand(script), { signal, timeoutMs: 120_000, maxOutputBytes: 16 * 1024 * 1024 })
    if (result.code !== 0) {
      throw new AdapterError('COMMAND_FAILED', `PowerShell on the host failed: ${(result.stderr.trim() || result.stdout.trim()).slice(0, 500) || `exit ${result.code ?? '?'}`}`)
    }
    return result.stdout
  }

  async connect(signal: AbortSignal): Promise<HostIdentity> {
    const conn = this.runner ? undefined : await this.ssh.get(signal)
    const out = await this.powershell(
      ps`$os = Get-CimInstance -ClassName Win32_OperatingSystem
[pscustomobject]@{ hostname = $env:COMPUTERNAME; os = $os.Caption; version = $os.Version } | ConvertTo-Json -Compress`,
      signal,
    )
    const parsed = IdentitySchema.safeParse(safeJson(out))
    if (!parsed.success) throw new AdapterError('BAD_RESPONSE', 'The host did not answer like Windows PowerShell does. Is this a Windows host with OpenSSH?')
    const { hostname, os, version } = parsed.data
    return {
      hostname,
      ...(os ? { os } : {}),
      ...(version ? { version } : {}),
      fingerprint: conn?.fingerprint ?? '',
      fingerprintType: conn?.keyType ?? '',
    }
  }

  async inventory(signal: AbortSignal): Promise<Inventory> {
    const identity = await this.connect(signal)
    const out = await this.powershell(
      ps`ConvertTo-Json -Compress -Depth 3 -InputObject @(Get-VM | Select-Object @{n='Id';e={$_.Id.ToString()}}, Name, @{n='State';e={$_.State.ToString()}}, ProcessorCount, MemoryStartup)`,
      signal,
    )
    let items: unknown[]
    try {
      items = jsonArray(out)
    } catch {
      throw new AdapterError('BAD_RESPONSE', 'Get-VM did not return JSON.')
    }
    const vms = items.map((item) => {
      const vm = VmSchema.safeParse(item)
      if (!vm.success) throw new AdapterError('BAD_RESPONSE', 'Get-VM returned a VM Lifeboat does not understand.')
      return {
        id: vm.data.Id.toLowerCase(),
        name: vm.data.Name,
        powerState: hypervState(vm.data.State),
        ...(vm.data.ProcessorCount != null ? { cpus: vm.data.ProcessorCount } : {}),
        ...(vm.data.MemoryStartup != null ? { memoryBytes: vm.data.MemoryStartup } : {}),
        disks: [],
        snapshots: [],
      }
    })
    return { hostname: identity.hostname, hosts: [{ id: identity.hostname, name: identity.hostname }], vms }
  }

  describe(): AdapterDescription {
    const later = { available: false, reason: 'Not available for Hyper-V hosts in this version of Lifeboat yet.' }
    return {
      kind: 'hyperv',
      capabilities: { inventory: { available: true }, watch: { available: false, reason: 'Hyper-V hosts are polled for changes.' }, power: later, snapshots: later, backup: later, disks: later, restore: later, hooks: later },
    }
  }

  async close(): Promise<void> {
    await this.ssh.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text.trim())
  } catch {
    return undefined
  }
}

export function createHyperVAdapter(options: AdapterOptions): HostAdapter {
  return new HyperVAdapter(options)
}
