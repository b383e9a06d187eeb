import { z } from 'zod'
import type { Inventory, PowerState, Vm } from '../host-adapter'
import { findService, serviceOk } from './integration-services'
import { ps } from './powershell'
import { runJson, type PowerShellRunner } from './ps-runner'
import {
  DRIVE_FIELDS,
  DriveRecord,
  HostRecord,
  INTEGRATION_FIELDS,
  IntegrationRecord,
  SNAPSHOT_FIELDS,
  SnapshotRecord,
  VHD_FIELDS,
  VM_FIELDS,
  VhdRecord,
  VmRecord,
  VolumeRecord,
  arrayOf,
} from './schemas'
import { snapshotView } from './snapshots'
import { chainOf, completeChains, diskName, raw } from './vm-details'

/** Hyper-V's VMState names mapped to Lifeboat's power states. */
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
    case 'FastSaved':
      return 'suspended'
    default:
      return 'unknown'
  }
}

const InventorySchema = z.object({
  host: HostRecord,
  vms: arrayOf(VmRecord, 10_000),
  drives: arrayOf(DriveRecord, 100_000),
  vhds: arrayOf(VhdRecord, 100_000),
  snapshots: arrayOf(SnapshotRecord, 100_000),
  integration: arrayOf(IntegrationRecord, 200_000),
  volumes: arrayOf(VolumeRecord, 100),
})

/** One round trip for the whole host (each PowerShell start costs a second on Windows), plus one per missing parent level. */
const SCRIPT = ps`$vms = @(Get-VM)
$drives = @($vms | Get-VMHardDiskDrive)
$paths = @($drives | Select-Object -ExpandProperty Path)
$os = Get-CimInstance -ClassName Win32_OperatingSystem
[pscustomobject]@{
  host = [pscustomobject]@{ name = $env:COMPUTERNAME; os = $os.Caption; version = $os.Version; ps = $PSVersionTable.PSVersion.ToString(); edition = $PSVersionTable.PSEdition }
  vms = @($vms | Select-Object ${raw(VM_FIELDS)})
  drives = @($drives | Select-Object ${raw(DRIVE_FIELDS)})
  vhds = @(if ($paths.Count -gt 0) { Get-VHD -Path $paths | Select-Object ${raw(VHD_FIELDS)} })
  snapshots = @($vms | Get-VMSnapshot | Select-Object ${raw(SNAPSHOT_FIELDS)})
  integration = @($vms | Get-VMIntegrationService | Select-Object ${raw(INTEGRATION_FIELDS)})
  volumes = @(Get-CimInstance -ClassName Win32_LogicalDisk -Filter 'DriveType=3' | Select-Object ${raw('DeviceID, Size, FreeSpace')})
} | ConvertTo-Json -Depth 4 -Compress`

export async function readInventory(runner: PowerShellRunner, signal: AbortSignal): Promise<Inventory & { readonly powershell: string }> {
  const inv = await runJson(runner, SCRIPT, InventorySchema, { signal, what: 'Reading the Hyper-V inventory', timeoutMs: 300_000, maxOutputBytes: 64 * 1024 * 1024 })
  const vhds = await completeChains(runner, inv.vhds, signal)
  const vms: Vm[] = inv.vms.map((v) => {
    const drives = inv.drives.filter((d) => d.VMId === v.Id)
    const ics = inv.integration.filter((i) => i.VMId === v.Id)
    const heartbeat = findService(ics, 'heartbeat')
    const vss = findService(ics, 'vss')
    const facts: { label: string; value: string }[] = [
      { label: 'Generation', value: String(v.Generation) },
      { label: 'Configuration version', value: v.Version ?? '' },
      { label: 'Checkpoint type', value: v.CheckpointType },
      { label: 'Integration services', value: ics.map((i) => `${i.Name}: ${i.Enabled ? (i.PrimaryStatusDescription ?? 'on') || 'on' : 'off'}`).join(', ') },
      ...(v.IntegrationServicesState ? [{ label: 'Integration services state', value: v.IntegrationServicesState }] : []),
      ...(v.Heartbeat ? [{ label: 'Heartbeat', value: v.Heartbeat }] : []),
    ]
    return {
      id: v.Id,
      name: v.Name,
      powerState: hypervState(v.State),
      cpus: v.ProcessorCount,
      memoryBytes: v.MemoryStartup,
      guestAgent: serviceOk(heartbeat) && vss?.Enabled === true,
      disks: drives.map((d) => {
        const top = d.Path ?? ''
        let size: number | undefined
        let format: string | undefined
        try {
          const chain = chainOf(vhds, top)
          size = chain[0]?.Size
          format = chain.length > 1 ? `${(chain.at(-1)?.VhdFormat ?? '').toLowerCase()} + ${chain.length - 1} checkpoint file(s)` : chain[0]?.VhdFormat.toLowerCase()
        } catch {
          // A pass-through disk or a file Get-VHD could not read: listed without size and format.
        }
        return { id: `${d.ControllerType}${d.ControllerNumber}:${d.ControllerLocation}`, name: diskName(d), location: top, ...(size !== undefined ? { sizeBytes: size } : {}), ...(format !== undefined ? { format } : {}) }
      }),
      snapshots: inv.snapshots.filter((s) => s.VMId === v.Id).map((s) => snapshotView(s)),
      facts,
    }
  })
  return {
    hostname: inv.host.name,
    hosts: [{ id: inv.host.name, name: inv.host.name }],
    vms,
    storage: inv.volumes.map((vol) => ({ id: vol.DeviceID, name: vol.DeviceID, ...(vol.Size != null ? { sizeBytes: vol.Size } : {}), ...(vol.FreeSpace != null ? { freeBytes: vol.FreeSpace } : {}) })),
    powershell: `${inv.host.edition ?? ''} ${inv.host.ps ?? ''}`.trim(),
  }
}
