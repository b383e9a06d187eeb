import { existsSync } from 'node:fs'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isAdapterError } from '../../adapters/host-adapter'
import { saveVm, startVm } from '../../adapters/hyperv/power'
import { PsRaw, ps } from '../../adapters/hyperv/powershell'
import { createReferencePoint, destroyReferencePoint, virtualDiskChanges } from '../../adapters/hyperv/rct'
import { vmVariable } from '../../adapters/hyperv/vm-details'
import { VHD_FOLDER } from '../hyperv-sim/hyperv/host'
import { knownContent } from '../hyperv-sim/hyperv/known-content'
import { canRunSshHosts } from '../ssh-host'
import { startHyperVPwshHost, type HyperVPwshHost } from './host'
import { canRunHyperVPwshHost } from './pwsh'

const runnable = canRunHyperVPwshHost().ok && canRunSshHosts().ok
const CANARY = path.join(tmpdir(), `lb-hvpwsh-cmdlets-canary-${process.pid}`)
// A name for New-VM that would do something if any layer ran it (New-VM itself takes any name up to 100 characters).
const HOSTILE = `‘n’ "v" $(New-Item -ItemType File -Path '${CANARY}') ; | \`n -x $env:HOME`
const MiB = 1024 * 1024

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string; params: Record<string, unknown> }> {
  try {
    await p
  } catch (err) {
    if (isAdapterError(err)) return { code: err.code, message: err.message, params: err.params }
    throw err
  }
  throw new Error('the script succeeded')
}

/**
 * The rest of the Hyper-V and CIM cmdlets the adapter uses, each bound by real pwsh from the scripts the adapter sends
 * (the same lines as restore.ts, power.ts, snapshots.ts, guest-files.ts and rct.ts), against the model behind them.
 */
describe.skipIf(!runnable)('Hyper-V test host on real PowerShell: configuration, power, checkpoint and CIM cmdlets', () => {
  let started: HyperVPwshHost | undefined
  const host = (): HyperVPwshHost => {
    if (!started) throw new Error('the test host did not start')
    return started
  }
  beforeAll(async () => {
    await rm(CANARY, { force: true })
    started = await startHyperVPwshHost({ vms: ['web01'] })
  }, 240_000)
  afterAll(async () => {
    await started?.stop()
    await rm(CANARY, { force: true })
  }, 60_000)

  it('builds a VM as a restore does: New-VM, processor, memory, firmware, controllers, disk, network, boot device; Remove-VM', async () => {
    const t = host()
    const signal = AbortSignal.timeout(240_000)
    const { runner } = t.newContext()
    const disk = `${VHD_FOLDER}\\restored-1.vhdx`
    await t.host.disks.createBase(disk, knownContent('restored', 8 * MiB), 'vhdx')

    const hostInfo = JSON.parse(await runner(ps`$h = Get-VMHost\n[pscustomobject]@{ disks = $h.VirtualHardDiskPath; switches = @(Get-VMSwitch | Select-Object Name) } | ConvertTo-Json -Depth 3 -Compress`, { signal, what: 'host' })) as unknown
    expect(hostInfo).toEqual({ disks: VHD_FOLDER, switches: [{ Name: 'Default Switch' }, { Name: 'LAN' }] })

    const made = JSON.parse(await runner(ps`New-VM -Name ${HOSTILE} -Generation 2 -MemoryStartupBytes ${2 * 1024 * MiB} -NoVHD | Select-Object Id, Name | ConvertTo-Json -Compress`, { signal, what: 'New-VM' })) as { Id: string; Name: string }
    expect(made.Name).toBe(HOSTILE)
    const vm = t.vm(HOSTILE)
    expect(made.Id).toBe(vm.id)
    expect([vm.generation, vm.memoryStartup, vm.state]).toEqual([2, 2 * 1024 * MiB, 'Off'])

    const lines = [
      vmVariable(vm.id),
      ps`Set-VMProcessor -VM $vm -Count ${4}`,
      ps`Set-VMMemory -VM $vm -DynamicMemoryEnabled $true -MinimumBytes ${512 * MiB} -MaximumBytes ${4096 * MiB}`,
      ps`Set-VMFirmware -VM $vm -EnableSecureBoot On -SecureBootTemplate ${'MicrosoftUEFICertificateAuthority'}`,
      ps`Add-VMScsiController -VM $vm`,
      ps`Add-VMHardDiskDrive -VM $vm -Path ${disk} -ControllerType ${'SCSI'} -ControllerNumber ${1} -ControllerLocation ${0}`,
      ps`Connect-VMNetworkAdapter -VMNetworkAdapter (Get-VMNetworkAdapter -VM $vm | Select-Object -First 1) -SwitchName ${'LAN'}`,
      ps`Add-VMNetworkAdapter -VM $vm -SwitchName ${'Default Switch'}`,
      ps`Set-VMFirmware -VM $vm -FirstBootDevice (Get-VMHardDiskDrive -VM $vm -ControllerType SCSI -ControllerNumber ${1} -ControllerLocation ${0})`,
      ps`[pscustomobject]@{ fw = @(Get-VMFirmware -VM $vm | Select-Object SecureBoot, SecureBootTemplate); nics = @(Get-VMNetworkAdapter -VM $vm | Select-Object SwitchName, Connected) } | ConvertTo-Json -Compress -Depth 3`,
    ]
    const shown = JSON.parse(await runner(new PsRaw(lines.map((l) => l.text).join('\n')), { signal, what: 'configuring' })) as unknown
    expect(shown).toEqual({ fw: [{ SecureBoot: 0, SecureBootTemplate: 'MicrosoftUEFICertificateAuthority' }], nics: [{ SwitchName: 'LAN', Connected: true }, { SwitchName: 'Default Switch', Connected: true }] })
    expect([vm.processorCount, vm.dynamicMemory, vm.memoryMinimum, vm.memoryMaximum, vm.secureBoot, vm.scsiControllers]).toEqual([4, true, 512 * MiB, 4096 * MiB, true, 2])
    expect(vm.drives.map((d) => [d.controllerType, d.controllerNumber, d.controllerLocation, d.path])).toEqual([['SCSI', 1, 0, disk]])

    // Real PowerShell's own binding and prompting: ValidateRange on -Generation, and Remove-VM's "Are you sure?".
    const badGeneration = await failure(runner(ps`New-VM -Name ${'x'} -Generation 3 -NoVHD`, { signal, what: 'New-VM' }))
    expect(badGeneration.params).toMatchObject({ psErrorId: expect.stringMatching(/^ParameterArgumentValidationError,/) as unknown })
    const prompted = await failure(runner(ps`${vmVariable(vm.id)}\nRemove-VM -VM $vm`, { signal, what: 'Remove-VM' }))
    expect(prompted.message).toMatch(/NonInteractive mode/)
    expect(t.host.vms.has(vm.id)).toBe(true)
    await runner(ps`${vmVariable(vm.id)}\nif ($vm.State -ne 'Off') { Stop-VM -VM $vm -TurnOff -Force }\nRemove-VM -VM $vm -Force`, { signal, what: 'Remove-VM' })
    expect(t.host.vms.has(vm.id)).toBe(false)

    expect(existsSync(CANARY)).toBe(false)
    expect(t.bridge.calls).toEqual(expect.arrayContaining(['New-VM', 'Set-VMProcessor', 'Set-VMMemory', 'Set-VMFirmware', 'Add-VMScsiController', 'Add-VMHardDiskDrive', 'Get-VMNetworkAdapter', 'Connect-VMNetworkAdapter', 'Add-VMNetworkAdapter', 'Get-VMFirmware', 'Get-VMHost', 'Get-VMSwitch', 'Remove-VM']))
    expect(t.bridge.problems).toEqual([])
  }, 300_000)

  it('saves and starts a VM, reverts to a checkpoint (Restore-VMSnapshot asks unless -Confirm:$false), copies a file in', async () => {
    const t = host()
    const signal = AbortSignal.timeout(240_000)
    const { runner } = t.newContext()
    const vm = t.vm('web01')
    await saveVm(runner, vm.id, signal)
    expect(vm.state).toBe('Saved')
    await startVm(runner, vm.id, signal)
    expect(vm.state).toBe('Running')

    const adapter = t.newAdapter()
    const made = await adapter.snapshots.create(vm.id, { label: 'before' }, signal)
    const asked = await failure(runner(ps`$s = Get-VMSnapshot -Id ${made.id}\nRestore-VMSnapshot -VMSnapshot $s`, { signal, what: 'Restore-VMSnapshot' }))
    expect(asked.message).toMatch(/NonInteractive mode/)
    expect(t.bridge.calls).not.toContain('Restore-VMSnapshot')
    await adapter.snapshots.revert(vm.id, made.id, {}, signal)
    expect(t.bridge.calls).toContain('Restore-VMSnapshot')
    expect(vm.parentCheckpointId).toBe(made.id)
    await adapter.snapshots.remove(vm.id, made.id, signal)
    // The checkpoint was a production one (no memory): the VM came back off.
    if (vm.state !== 'Running') await startVm(runner, vm.id, signal)

    vm.integration.set('Guest Service Interface', true)
    const staged = 'C:\\ProgramData\\Lifeboat\\staging\\a’b.txt'
    await mkdir(path.dirname(t.host.fs.toLocal(staged)), { recursive: true })
    await writeFile(t.host.fs.toLocal(staged), 'restored text')
    await runner(ps`${vmVariable(vm.id)}\nCopy-VMFile -VM $vm -SourcePath ${staged} -DestinationPath ${'C:\\Users\\o’neil\\a.txt'} -FileSource Host -CreateFullPath`, { signal, what: 'Copy-VMFile' })
    expect(vm.guest.copiedIn.get('C:\\Users\\o’neil\\a.txt')?.toString()).toBe('restored text')
    expect(t.bridge.problems).toEqual([])
  }, 300_000)

  it('runs the RCT calls: a reference point made through Invoke-CimMethod, its changes, and its removal', async () => {
    const t = host()
    const signal = AbortSignal.timeout(240_000)
    const ctx = t.newContext({ rct: true })
    const vm = t.vm('web01')
    const drive = vm.drives[0]
    if (!drive) throw new Error('web01 has no disk')
    const point = await createReferencePoint(ctx, vm.id, signal)
    const rctId = point.byPath.get(drive.path.toLowerCase())
    expect(rctId).toMatch(/^rctX:/)
    expect(await virtualDiskChanges(ctx, drive.path, rctId ?? '', 8 * MiB, signal)).toEqual([])
    expect(t.host.rct.points.size).toBe(1)
    await destroyReferencePoint(ctx, point.instanceId, signal)
    expect(t.host.rct.points.size).toBe(0)
    expect(t.host.rct.calls).toEqual(['Msvm_VirtualSystemReferencePointService.CreateReferencePoint', 'Msvm_ImageManagementService.GetVirtualDiskChanges', 'Msvm_VirtualSystemReferencePointService.DestroyReferencePoint'])
    expect(t.bridge.problems).toEqual([])
  }, 300_000)

  // Compiled cmdlets of Microsoft's class names: PowerShell appends the implementing type to their error ids (to a
  // function's it appended the function name, "…,Get-VM"), binding errors included.
  it('gives the exact FullyQualifiedErrorIds of Windows: a missing VM through the adapter', async () => {
    const { runner } = host().newContext()
    const missing = await failure(runner(ps`Get-VM -Name ${'nosuch'}`, { signal: AbortSignal.timeout(120_000), what: 'Get-VM' }))
    expect(missing.code).toBe('NOT_FOUND')
    expect(missing.params).toEqual({ psErrorId: 'InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM', psCategory: 'InvalidArgument', psCommand: 'Get-VM' })
  }, 180_000)

  it('gives the exact ids and categories of model and binding errors, and Get-Command finds cmdlets of those classes', async () => {
    const t = host()
    const { runner } = t.newContext()
    // Each case with -ErrorAction Stop in effect, so that a non-terminating error is caught as its own record.
    const script = ps`$ErrorActionPreference = 'Stop'
function Probe([string] $Case, [scriptblock] $Run) {
  try { $null = & $Run; [pscustomobject]@{ case = $Case; id = ''; category = '' } }
  catch { [pscustomobject]@{ case = $Case; id = $_.FullyQualifiedErrorId; category = [string]$_.CategoryInfo.Category } }
}
$probes = @(
  Probe 'missing VM' { Get-VM -Name ${'nosuch'} }
  Probe 'not a Guid' { Get-VM -Id ${'notaguid'} }
  Probe 'missing checkpoint' { Checkpoint-VM -Name ${'web01'} -SnapshotName ${'gone'}; $c = Get-VMSnapshot -VMName ${'web01'} -Name ${'gone'}; Remove-VMSnapshot -VMSnapshot $c -Confirm:$false; Remove-VMSnapshot -VMSnapshot $c -Confirm:$false }
  Probe 'missing disk' { Get-VHD -Path ${'C:\\nosuch\\disk.vhdx'} }
  Probe 'not a CIM instance' { Get-CimInstance -InputObject ([pscustomobject]@{ Name = ${'x'} }) }
  Probe 'missing file' { Remove-Item -LiteralPath ${'C:\\nosuch\\file.txt'} }
  Probe 'unknown parameter' { Test-Path -Path ${'C:\\ProgramData'} -NoSuchParameter }
)
$null = Get-ChildItem -LiteralPath ${'/'}
$found = foreach ($n in ${['Get-VM', 'Get-VMCheckpoint', 'Get-VHD', 'Get-CimInstance', 'Remove-Item', 'Test-Path', 'Join-Path']}) {
  $c = Get-Command -Name $n
  if ($c.CommandType -eq 'Alias') { $c = $c.ResolvedCommand }
  [pscustomobject]@{ Name = $n; CommandType = [string]$c.CommandType; ImplementingType = if ($c.ImplementingType) { $c.ImplementingType.FullName } else { $null }; Source = $c.Source }
}
[pscustomobject]@{ probes = $probes; found = @($found) } | ConvertTo-Json -Depth 3 -Compress`
    const out = JSON.parse(await runner(script, { signal: AbortSignal.timeout(180_000), what: 'probing' })) as { probes: unknown[]; found: unknown[] }
    expect(out.probes).toEqual([
      { case: 'missing VM', id: 'InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM', category: 'InvalidArgument' },
      { case: 'not a Guid', id: 'CannotConvertArgumentNoMessage,Microsoft.HyperV.PowerShell.Commands.GetVM', category: 'InvalidArgument' },
      { case: 'missing checkpoint', id: 'ObjectNotFound,Microsoft.HyperV.PowerShell.Commands.RemoveVMSnapshot', category: 'ObjectNotFound' },
      { case: 'missing disk', id: 'ObjectNotFound,Microsoft.Vhd.PowerShell.Cmdlets.GetVHD', category: 'ObjectNotFound' },
      { case: 'not a CIM instance', id: 'MismatchedPSTypeName,Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand', category: 'InvalidArgument' },
      { case: 'missing file', id: 'PathNotFound,Microsoft.PowerShell.Commands.RemoveItemCommand', category: 'ObjectNotFound' },
      { case: 'unknown parameter', id: 'NamedParameterNotFound,Microsoft.PowerShell.Commands.TestPathCommand', category: 'InvalidArgument' },
    ])
    expect(out.found).toEqual([
      { Name: 'Get-VM', CommandType: 'Cmdlet', ImplementingType: 'Microsoft.HyperV.PowerShell.Commands.GetVM', Source: 'Hyper-V' },
      { Name: 'Get-VMCheckpoint', CommandType: 'Cmdlet', ImplementingType: 'Microsoft.HyperV.PowerShell.Commands.GetVMSnapshot', Source: 'Hyper-V' },
      { Name: 'Get-VHD', CommandType: 'Cmdlet', ImplementingType: 'Microsoft.Vhd.PowerShell.Cmdlets.GetVHD', Source: 'Hyper-V' },
      { Name: 'Get-CimInstance', CommandType: 'Cmdlet', ImplementingType: 'Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand', Source: 'CimCmdlets' },
      // After Get-ChildItem (Microsoft.PowerShell.Management) ran, the file cmdlets found are still WindowsPaths'.
      { Name: 'Remove-Item', CommandType: 'Cmdlet', ImplementingType: 'Microsoft.PowerShell.Commands.RemoveItemCommand', Source: 'WindowsPaths' },
      { Name: 'Test-Path', CommandType: 'Cmdlet', ImplementingType: 'Microsoft.PowerShell.Commands.TestPathCommand', Source: 'WindowsPaths' },
      { Name: 'Join-Path', CommandType: 'Cmdlet', ImplementingType: 'Microsoft.PowerShell.Commands.JoinPathCommand', Source: 'WindowsPaths' },
    ])
    expect([...t.host.checkpoints.values()].map((c) => c.name)).not.toContain('gone')
    expect(t.bridge.problems).toEqual([])
  }, 300_000)
})
