import { z } from 'zod'
import { AdapterError } from '../host-adapter'
import { clean } from './errors'
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
  VhdErrorRecord,
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
  /** Disk files Get-VHD could not read, by lower-case path (a deleted VHDX, a missing parent). */
  readonly vhdErrors: ReadonlyMap<string, VhdErrorRecord>
  readonly snapshots: readonly SnapshotRecord[]
  readonly integration: readonly IntegrationRecord[]
  readonly nics: readonly NicRecord[]
  readonly firmware?: FirmwareRecord
}

const DetailsSchema = z.object({
  vm: VmRecord,
  drives: arrayOf(DriveRecord, 256),
  vhds: arrayOf(VhdRecord, 256),
  vhdErrors: arrayOf(VhdErrorRecord, 256),
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
  return ps`$vm = Hyper-V\\Get-VM -Id ${checkVmId(vmId)}`
}

/** A pass-through (physical) disk: Hyper-V gives its number; its Path names no file Lifeboat could read. */
export function isPassThrough(d: Pick<DriveRecord, 'DiskNumber' | 'Path'>): boolean {
  return (d.DiskNumber !== undefined && d.DiskNumber !== null) || d.Path === undefined || d.Path === null || d.Path === ''
}

/**
 * Sets $vhds (Get-VHD's records) and $vhdErrors (one per file it could not read) for the file paths in `paths`, one
 * Get-VHD per file: under ErrorActionPreference Stop a single deleted VHDX would otherwise fail the whole script, and
 * with it every other VM's disks (issue 22 point 2). `paths` is a PowerShell expression of Lifeboat's own.
 */
export function vhdScript(paths: string): PsRaw {
  return ps`$vhdErrors = @()
$vhds = @(foreach ($p in @(${raw(paths)})) {
  if (-not [string]::IsNullOrEmpty($p)) {
    try { Hyper-V\\Get-VHD -Path $p | Select-Object ${raw(VHD_FIELDS)} } catch { $vhdErrors += [pscustomobject]@{ Path = [string]$p; Message = [string]$_.Exception.Message; Id = [string]$_.FullyQualifiedErrorId } }
  }
})`
}

/** The file paths of a drive list ($drives), pass-through disks left out (their Path is no file). */
export const DRIVE_FILES = '$drives | Where-Object { $null -eq $_.DiskNumber } | Select-Object -ExpandProperty Path'

export async function describeVm(runner: PowerShellRunner, vmId: string, signal: AbortSignal): Promise<VmDetails> {
  const script = ps`${vmVariable(vmId)}
$drives = @(Hyper-V\\Get-VMHardDiskDrive -VM $vm)
${vhdScript(DRIVE_FILES)}
$fw = @(if ($vm.Generation -eq 2) { Hyper-V\\Get-VMFirmware -VM $vm | Select-Object SecureBoot, SecureBootTemplate })
[pscustomobject]@{
  vm = $vm | Select-Object ${raw(VM_FIELDS)}
  drives = @($drives | Select-Object ${raw(DRIVE_FIELDS)})
  vhds = $vhds
  vhdErrors = $vhdErrors
  snapshots = @(Hyper-V\\Get-VMSnapshot -VM $vm | Select-Object ${raw(SNAPSHOT_FIELDS)})
  integration = @(Hyper-V\\Get-VMIntegrationService -VM $vm | Select-Object ${raw(INTEGRATION_FIELDS)})
  nics = @(Hyper-V\\Get-VMNetworkAdapter -VM $vm | Select-Object ${raw(NIC_FIELDS)})
  firmware = $fw
} | ConvertTo-Json -Depth 4 -Compress`
  const d = await runJson(runner, script, DetailsSchema, { signal, what: 'Reading the VM configuration', timeoutMs: 120_000 })
  const { vhds, errors } = await completeChainsReporting(runner, d.vhds, d.vhdErrors, signal)
  return { vm: d.vm, drives: d.drives, vhds, vhdErrors: errors, snapshots: d.snapshots, integration: d.integration, nics: d.nics, ...(d.firmware[0] ? { firmware: d.firmware[0] } : {}) }
}

const MoreVhds = z.object({ vhds: arrayOf(VhdRecord, 256), vhdErrors: arrayOf(VhdErrorRecord, 256) })

/**
 * Get-VHD does not follow parents: asks again for every ParentPath not yet known, up to a sane depth. A parent
 * Get-VHD cannot read is reported in `errors` (its chain is then broken), never fails the others.
 */
export async function completeChainsReporting(
  runner: PowerShellRunner,
  known: readonly VhdRecord[],
  knownErrors: readonly VhdErrorRecord[],
  signal: AbortSignal,
): Promise<{ vhds: Map<string, VhdRecord>; errors: Map<string, VhdErrorRecord> }> {
  const map = new Map(known.map((v) => [v.Path.toLowerCase(), v]))
  const errors = new Map(knownErrors.map((e) => [e.Path.toLowerCase(), e]))
  for (let round = 0; round < 32; round++) {
    const missing = [...new Set([...map.values()].map((v) => v.ParentPath ?? '').filter((p) => p !== '' && !map.has(p.toLowerCase()) && !errors.has(p.toLowerCase())))]
    if (missing.length === 0) return { vhds: map, errors }
    const script = ps`$parents = ${missing}
${vhdScript('$parents')}
[pscustomobject]@{ vhds = $vhds; vhdErrors = $vhdErrors } | ConvertTo-Json -Compress -Depth 3`
    const more = await runJson(runner, script, MoreVhds, { signal, what: 'Reading the parent disks of a VHD chain' })
    for (const v of more.vhds) map.set(v.Path.toLowerCase(), v)
    for (const e of more.vhdErrors) errors.set(e.Path.toLowerCase(), e)
  }
  throw new AdapterError('BAD_RESPONSE', 'A VHD parent chain is deeper than 32 files (a loop?).')
}

export async function completeChains(runner: PowerShellRunner, known: readonly VhdRecord[], signal: AbortSignal): Promise<Map<string, VhdRecord>> {
  return (await completeChainsReporting(runner, known, [], signal)).vhds
}

/** Why a drive's chain cannot be read, in words naming the file ("… C:\VMs\a.vhdx cannot be read by Hyper-V: …"), or undefined. */
export function chainProblem(vhds: ReadonlyMap<string, VhdRecord>, errors: ReadonlyMap<string, VhdErrorRecord>, d: DriveRecord): string | undefined {
  if (isPassThrough(d)) return `${diskName(d)} is a pass-through (physical) disk${d.DiskNumber != null ? ` (host disk ${d.DiskNumber})` : ''}, which Lifeboat cannot read from the host.`
  let p: string | undefined = d.Path ?? undefined
  for (let depth = 0; p !== undefined && p !== '' && depth <= 32; depth++) {
    const broken = errors.get(p.toLowerCase())
    if (broken) return `The disk file ${clean(broken.Path, 300)} of ${diskName(d)}${p.toLowerCase() === (d.Path ?? '').toLowerCase() ? '' : ' (a parent in its checkpoint chain)'} cannot be read by Hyper-V: ${clean(broken.Message, 300)} [${clean(broken.Id, 120)}]`
    p = vhds.get(p.toLowerCase())?.ParentPath ?? undefined
  }
  return undefined
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
