import { z } from 'zod'
import type { Inventory, Vm } from '../host-adapter'
import { AdapterError } from '../host-adapter'
import { ErrorRecordSchema, clean, mapPsError, type PsErrorRecord } from './errors'
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
  VM_FIELDS,
  VhdErrorRecord,
  VhdRecord,
  VmRecord,
  VolumeRecord,
  arrayOf,
} from './schemas'
import { snapshotView } from './snapshots'
import { DRIVE_FILES, chainOf, chainProblem, completeChainsReporting, diskName, isPassThrough, raw, vhdScript } from './vm-details'
import { hypervState, isCritical, stateText } from './vm-state'

export { hypervState } from './vm-state'

const InventorySchema = z.object({
  access: ErrorRecordSchema.nullish(),
  host: HostRecord.extend({ user: z.string().max(300).nullish() }),
  vms: arrayOf(VmRecord, 10_000),
  drives: arrayOf(DriveRecord, 100_000),
  vhds: arrayOf(VhdRecord, 100_000),
  vhdErrors: arrayOf(VhdErrorRecord, 100_000),
  snapshots: arrayOf(SnapshotRecord, 100_000),
  integration: arrayOf(IntegrationRecord, 200_000),
  volumes: arrayOf(VolumeRecord, 100),
})

/** One round trip for the whole host (each PowerShell start costs a second on Windows), plus one per missing parent level. */
const SCRIPT = ps`$vms = @(Hyper-V\\Get-VM)
$access = $null
if ($vms.Count -eq 0) {
  try { $null = Hyper-V\\Get-VMHost } catch { $access = [ordered]@{ message = [string]$_.Exception.Message; id = [string]$_.FullyQualifiedErrorId; category = $_.CategoryInfo.Category.ToString(); reason = [string]$_.CategoryInfo.Reason; target = [string]$_.CategoryInfo.TargetName; activity = [string]$_.CategoryInfo.Activity; exception = $_.Exception.GetType().FullName } }
}
$drives = @($vms | Hyper-V\\Get-VMHardDiskDrive)
${vhdScript(DRIVE_FILES)}
$os = CimCmdlets\\Get-CimInstance -ClassName Win32_OperatingSystem
[pscustomobject]@{
  access = $access
  host = [pscustomobject]@{ user = [Environment]::UserName; name = $env:COMPUTERNAME; os = $os.Caption; version = $os.Version; ps = $PSVersionTable.PSVersion.ToString(); edition = $PSVersionTable.PSEdition }
  vms = @($vms | Select-Object ${raw(VM_FIELDS)})
  drives = @($drives | Select-Object ${raw(DRIVE_FIELDS)})
  vhds = $vhds
  vhdErrors = $vhdErrors
  snapshots = @($vms | Hyper-V\\Get-VMSnapshot | Select-Object ${raw(SNAPSHOT_FIELDS)})
  integration = @($vms | Hyper-V\\Get-VMIntegrationService | Select-Object ${raw(INTEGRATION_FIELDS)})
  volumes = @(CimCmdlets\\Get-CimInstance -ClassName Win32_LogicalDisk -Filter 'DriveType=3' | Select-Object ${raw('DeviceID, Size, FreeSpace')})
} | ConvertTo-Json -Depth 4 -Compress`

export async function readInventory(runner: PowerShellRunner, signal: AbortSignal): Promise<Inventory & { readonly powershell: string }> {
  const inv = await runJson(runner, SCRIPT, InventorySchema, { signal, what: 'Reading the Hyper-V inventory', timeoutMs: 300_000, maxOutputBytes: 64 * 1024 * 1024 })
  if (inv.vms.length === 0 && inv.access) throw noVmsBecause(inv.access, inv.host.user ?? 'the SSH user', inv.host.name)
  const { vhds, errors } = await completeChainsReporting(runner, inv.vhds, inv.vhdErrors, signal)
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
      ...(isCritical(v.State) ? [{ label: 'State', value: stateText(v.State) }] : []),
      // A disk Lifeboat cannot read (a deleted VHDX, a pass-through disk) is shown on its VM, which stays listed.
      ...drives.flatMap((d) => {
        const problem = chainProblem(vhds, errors, d)
        return problem !== undefined ? [{ label: `Disk ${diskName(d)}`, value: problem }] : []
      }),
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
        const id = `${d.ControllerType}${d.ControllerNumber}:${d.ControllerLocation}`
        if (isPassThrough(d)) return { id, name: diskName(d), location: d.DiskNumber != null ? `host disk ${d.DiskNumber}` : top, format: 'pass-through' }
        if (chainProblem(vhds, errors, d) !== undefined) return { id, name: diskName(d), location: top, format: 'unreadable' }
        let size: number | undefined
        let format: string | undefined
        try {
          const chain = chainOf(vhds, top)
          size = chain[0]?.Size
          format = chain.length > 1 ? `${(chain.at(-1)?.VhdFormat ?? '').toLowerCase()} + ${chain.length - 1} checkpoint file(s)` : chain[0]?.VhdFormat.toLowerCase()
        } catch {
          // A chain the host described inconsistently: listed without size and format.
        }
        return { id, name: diskName(d), location: top, ...(size !== undefined ? { sizeBytes: size } : {}), ...(format !== undefined ? { format } : {}) }
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

/**
 * Hyper-V shows a user without Hyper-V rights an empty host: Get-VM writes its failure as a warning (which the
 * bootstrap silences) and lists nothing. So when no VM is listed, the script asks Get-VMHost, which fails for such a
 * user; its error record decides between "no rights" and any other reason the host cannot be read (issue 22 point 8).
 */
function noVmsBecause(record: PsErrorRecord, user: string, host: string): AdapterError {
  const err = mapPsError(record, 'Reading the Hyper-V host settings')
  if (err.code === 'PERMISSION_DENIED') {
    return new AdapterError(
      'PERMISSION_DENIED',
      `Hyper-V on ${clean(host, 80)} lists no VMs to ${clean(user, 80)} because that user may not manage Hyper-V there (Hyper-V shows such a user an empty host rather than an error). Add the SSH user to the local group Hyper-V Administrators (or Administrators) and connect again. (${clean(record.message, 200)})`,
      { ...err.params, reason: 'no-hyperv-rights' },
    )
  }
  return new AdapterError(err.code, `Hyper-V lists no VMs, and the host's Hyper-V settings could not be read either, so Lifeboat cannot tell an empty host from one it may not see: ${err.message}`, err.params)
}
