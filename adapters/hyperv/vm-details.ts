import { z } from 'zod'
import { AdapterError } from '../host-adapter'
import { PsRaw, ps } from './powershell'
import { runJson, type PowerShellRunner } from './ps-runner'
import {
  DRIVE_FIELDS,
  DriveRecord,
  FirmwareRecord,
  INTEGRATION_FIELDS,
  IntegrationRecord,
  NIC_FIELDS,
  NicRecord,
  SNAPSHOT_FIELDS,
  SnapshotRecord,
  VHD_FIELDS,
  VM_FIELDS,
  VhdRecord,
  VmRecord,
  arrayOf,
} from './schemas'

/** Field lists are Lifeboat's own constants, never host data. */
export const raw = (text: string): PsRaw => new PsRaw(text)

/** Everything Lifeboat needs to know about one VM: configuration, drives with their VHD chains, checkpoints, services. */
export interface VmDetails {
  readonly vm: VmRecord
  readonly drives: readonly DriveRecord[]
  /** Every file of every drive's chain, by lower-case path. */
  readonly vhds: ReadonlyMap<string, VhdRecord>
  readonly snapshots: readonly SnapshotRecord[]
  readonly integration: readonly IntegrationRecord[]
  readonly nics: readonly NicRecord[]
  readonly firmware?: FirmwareRecord
}

const DetailsSchema = z.object({
  vm: VmRecord,
  drives: arrayOf(DriveRecord, 256),
  vhds: arrayOf(VhdRecord, 256),
  snapshots: arrayOf(SnapshotRecord, 2000),
  integration: arrayOf(IntegrationRecord, 64),
  nics: arrayOf(NicRecord, 64),
  firmware: arrayOf(FirmwareRecord, 1),
})

export function checkVmId(vmId: string): string {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(vmId)) throw new AdapterError('NOT_FOUND', `"${vmId.slice(0, 80)}" is not a Hyper-V VM id.`)
  return vmId.toLowerCase()
}

/** `$vm` is the VM by id: VMs are never addressed by name (names repeat, and -Name takes wildcards). */
export function vmVariable(vmId: string): PsRaw {
  return ps`$vm = Get-VM -Id ${checkVmId(vmId)}`
}

export async function describeVm(runner: PowerShellRunner, vmId: string, signal: AbortSignal): Promise<VmDetails> {
  const script = ps`${vmVariable(vmId)}
$drives = @(Get-VMHardDiskDrive -VM $vm)
$paths = @($drives | Select-Object -ExpandProperty Path)
$fw = @(if ($vm.Generation -eq 2) { Get-VMFirmware -VM $vm | Select-Object SecureBoot, SecureBootTemplate })
[pscustomobject]@{
  vm = $vm | Select-Object ${raw(VM_FIELDS)}
  drives = @($drives | Select-Object ${raw(DRIVE_FIELDS)})
  vhds = @(if ($paths.Count -gt 0) { Get-VHD -Path $paths | Select-Object ${raw(VHD_FIELDS)} })
  snapshots = @(Get-VMSnapshot -VM $vm | Select-Object ${raw(SNAPSHOT_FIELDS)})
  integration = @(Get-VMIntegrationService -VM $vm | Select-Object ${raw(INTEGRATION_FIELDS)})
  nics = @(Get-VMNetworkAdapter -VM $vm | Select-Object ${raw(NIC_FIELDS)})
  firmware = $fw
} | ConvertTo-Json -Depth 4 -Compress`
  const d = await runJson(runner, script, DetailsSchema, { signal, what: 'Reading the VM configuration', timeoutMs: 120_000 })
  const vhds = await completeChains(runner, d.vhds, signal)
  return { vm: d.vm, drives: d.drives, vhds, snapshots: d.snapshots, integration: d.integration, nics: d.nics, ...(d.firmware[0] ? { firmware: d.firmware[0] } : {}) }
}

/** Get-VHD does not follow parents: asks again for every ParentPath not yet known, up to a sane depth. */
export async function completeChains(runner: PowerShellRunner, known: readonly VhdRecord[], signal: AbortSignal): Promise<Map<string, VhdRecord>> {
  const map = new Map(known.map((v) => [v.Path.toLowerCase(), v]))
  for (let round = 0; round < 32; round++) {
    const missing = [...new Set([...map.values()].map((v) => v.ParentPath ?? '').filter((p) => p !== '' && !map.has(p.toLowerCase())))]
    if (missing.length === 0) return map
    const more = await runJson(runner, ps`ConvertTo-Json -Compress -Depth 3 -InputObject @(Get-VHD -Path ${missing} | Select-Object ${raw(VHD_FIELDS)})`, arrayOf(VhdRecord, 256), { signal, what: 'Reading the parent disks of a VHD chain' })
    for (const v of more) map.set(v.Path.toLowerCase(), v)
  }
  throw new AdapterError('BAD_RESPONSE', 'A VHD parent chain is deeper than 32 files (a loop?).')
}

/** The chain of files from `top` down to its base, each with what Get-VHD said about it. */
export function chainOf(vhds: ReadonlyMap<string, VhdRecord>, top: string): VhdRecord[] {
  const out: VhdRecord[] = []
  let p: string | undefined = top
  while (p !== undefined && p !== '') {
    const v = vhds.get(p.toLowerCase())
    if (!v) throw new AdapterError('BAD_RESPONSE', `The host did not describe the disk file ${p}.`, { path: p })
    if (out.some((x) => x.Path.toLowerCase() === v.Path.toLowerCase()) || out.length > 32) throw new AdapterError('BAD_RESPONSE', `The VHD chain of ${top} loops.`)
    out.push(v)
    p = v.ParentPath ?? undefined
  }
  return out
}

export function diskName(d: Pick<DriveRecord, 'ControllerType' | 'ControllerNumber' | 'ControllerLocation'>): string {
  return `${d.ControllerType} ${d.ControllerNumber}:${d.ControllerLocation}`
}
