/**
 * The model behind the Hyper-V module, as scripts see it through real pwsh: the Hyper-V types of its objects (enums,
 * dates), -Name wildcards, its error records, the VM account's entry on attached disks that Start-VM needs, and the
 * WMI classes and methods of Resilient Change Tracking with their documented return values. Ported from the retired
 * ssh2 simulator's own tests (simulator.test.ts, rct-wmi.test.ts), which ran the same scripts through its interpreter.
 */
import { copyFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { PowerShellRunner } from '../../adapters/hyperv/ps-runner'
import { ps, type PsRaw } from '../../adapters/hyperv/powershell'
import { vmAccountSid } from '../hyperv-sim/hyperv/acl'
import { createCheckpoint, removeCheckpoint } from '../hyperv-sim/hyperv/checkpoint-ops'
import { RCT_BLOCK } from '../hyperv-sim/hyperv/rct'
import { canRunHyperVSim, knownContent, startHyperVSim, type HyperVSim } from './sim'

const MiB = 1024 * 1024
const NS = 'root\\virtualization\\v2'

describe.skipIf(!canRunHyperVSim().ok)('Hyper-V test host: the model as real PowerShell shows it', { timeout: 300_000 }, () => {
  let started: HyperVSim | undefined
  let runner: PowerShellRunner
  const sim = (): HyperVSim => {
    if (!started) throw new Error('the test host did not start')
    return started
  }
  const signal = () => AbortSignal.timeout(240_000)
  const json = async (script: PsRaw, what: string): Promise<Record<string, unknown>> => JSON.parse(await runner(script, { signal: signal(), what })) as Record<string, unknown>

  beforeAll(async () => {
    started = await startHyperVSim({ vms: ["web 'prod'", 'a1', 'a[1]'], diskSizeMiB: 8, timing: { checkpointMs: 0, saveMs: 0, startMs: 0, mergeMs: 0 } })
    runner = started.pwshHost.newContext().runner
  }, 240_000)
  afterAll(async () => {
    await started?.close()
  }, 60_000)

  it('shows Hyper-V types (enums as numbers, names with -EnumsAsStrings, dates), takes -Name as a wildcard and -Id exactly', async () => {
    const id = sim().host.vmByName('a[1]')?.id ?? ''
    const seen = await json(
      ps`[pscustomobject]@{
  json = (Get-VM -Name ${'web*'} | Select-Object Name, State, CheckpointType, CreationTime | ConvertTo-Json -Compress)
  strings = (Get-VM -Name ${'web*'} | Select-Object State | ConvertTo-Json -Compress -EnumsAsStrings)
  pattern = @(Get-VM -Name ${'a[1]'} | Select-Object -ExpandProperty Name)
  byId = (Get-VM -Id ${id}).Name
  none = @(Get-VM -Name ${'nothing*'}).Count
} | ConvertTo-Json -Compress`,
      'Reading VMs',
    )
    expect(seen.json).toMatch(/^\{"Name":"web 'prod'","State":2,"CheckpointType":3,"CreationTime":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"\}$/)
    expect(seen).toMatchObject({ strings: '{"State":"Running"}', pattern: ['a1'], byId: 'a[1]', none: 0 })
    expect(sim().limits).toEqual([])
  })

  it("writes the model's errors as Hyper-V error records, non-terminating as a binary cmdlet's are", async () => {
    const seen = await json(
      ps`$e = $null
Get-VM -Name ${'missing'} -ErrorAction SilentlyContinue -ErrorVariable e
$r = $e[0]
[pscustomobject]@{ after = $true; count = $e.Count; id = $r.FullyQualifiedErrorId; category = $r.CategoryInfo.Category.ToString(); activity = $r.CategoryInfo.Activity; type = $r.Exception.GetType().FullName; target = $r.TargetObject } | ConvertTo-Json -Compress`,
      'Asking for a missing VM',
    )
    expect(seen).toMatchObject({ after: true, count: 1, id: 'InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM', category: 'InvalidArgument', activity: 'Get-VM', type: 'Microsoft.HyperV.PowerShell.VirtualizationException' })
    expect(sim().limits).toEqual([])
  })

  it("refuses Start-VM while an attached file lacks the VM account's entry; Get-Acl | Set-Acl gives it back", async () => {
    const t = sim()
    const vm = await t.addVm('acl', { disks: [knownContent('acl', 4 * MiB)], state: 'Off' })
    const disk = vm.drives[0]?.path ?? ''
    const leaf = disk.slice(disk.lastIndexOf('\\') + 1)
    const sid = vmAccountSid(vm.id)
    const sddl = async (p: string) => await runner(ps`(Get-Acl -LiteralPath ${p}).Sddl`, { signal: signal(), what: 'Reading a descriptor' })
    expect(await sddl(disk)).toContain(`(A;;0x12019f;;;${sid})`)
    // A new file (as an upload makes it) renamed in under the disk's name has only what it inherits from its folder.
    await copyFile(t.host.fs.toLocal(disk), `${t.host.fs.toLocal(disk)}.new`)
    await runner(ps`Rename-Item -LiteralPath ${disk} -NewName ${`${leaf}.old`}\nRename-Item -LiteralPath ${`${disk}.new`} -NewName ${leaf}`, { signal: signal(), what: 'Renaming' })
    expect(await sddl(`${disk}.old`)).toContain(sid)
    expect(await sddl(disk)).not.toContain(sid)

    const start = ps`try { Start-VM -VM (Get-VM -Id ${vm.id}); [pscustomobject]@{ started = $true } | ConvertTo-Json -Compress }
catch { [pscustomobject]@{ id = $_.FullyQualifiedErrorId; category = $_.CategoryInfo.Category.ToString(); message = $_.Exception.Message } | ConvertTo-Json -Compress }`
    const refused = await json(start, 'Starting the VM')
    expect(refused).toMatchObject({ id: expect.stringMatching(/^AccessDenied,/) as unknown, category: 'PermissionDenied' })
    expect(refused.message).toContain(`Account does not have permission to open attachment '${disk}'. Error: 'General access denied error' (0x80070005).`)
    expect(vm.state).toBe('Off')

    await runner(ps`Get-Acl -LiteralPath ${`${disk}.old`} | Set-Acl -LiteralPath ${disk}`, { signal: signal(), what: 'Copying the descriptor' })
    expect(await sddl(disk)).toBe(await sddl(`${disk}.old`))
    expect(await json(start, 'Starting the VM')).toEqual({ started: true })
    expect(vm.state).toBe('Running')

    const missing = await json(
      ps`try { Get-Acl -LiteralPath ${`${disk}.gone`} } catch { [pscustomobject]@{ id = $_.FullyQualifiedErrorId; category = $_.CategoryInfo.Category.ToString() } | ConvertTo-Json -Compress }`,
      'Reading a missing descriptor',
    )
    expect(missing).toMatchObject({ id: expect.stringMatching(/^GetAcl_PathNotFound_Exception,/) as unknown, category: 'ObjectNotFound' })
    expect(t.limits).toEqual([])
  })

  describe('Resilient Change Tracking over WMI', () => {
    const createPoint = (vmId: string) =>
      json(
        ps`$ns = ${NS}
$cs = Get-CimInstance -Namespace $ns -ClassName Msvm_ComputerSystem -Filter ${`Name = '${vmId}'`}
$svc = Get-CimInstance -Namespace $ns -ClassName Msvm_VirtualSystemReferencePointService
$r = Invoke-CimMethod -InputObject $svc -MethodName CreateReferencePoint -Arguments @{ AffectedSystem = $cs; ReferencePointSettings = ''; ReferencePointType = 1 }
$p = Get-CimInstance -InputObject $r.ResultingReferencePoint
[pscustomobject]@{ ReturnValue = $r.ReturnValue; Keys = $r.ResultingReferencePoint.ResilientChangeTrackingIdentifiers; Id = $p.InstanceID; Rct = @($p.ResilientChangeTrackingIdentifiers); Type = $p.ReferencePointType } | ConvertTo-Json -Compress`,
        'Creating a reference point',
      )
    const changes = (file: string, limit: string, offset: number, length: number) =>
      json(
        ps`$svc = Get-CimInstance -Namespace ${NS} -ClassName Msvm_ImageManagementService
$r = Invoke-CimMethod -InputObject $svc -MethodName GetVirtualDiskChanges -Arguments @{ Path = ${file}; LimitId = ${limit}; TargetSnapshotId = ''; ByteOffset = ${offset}; ByteLength = ${length} }
[pscustomobject]@{ ReturnValue = $r.ReturnValue; Processed = $r.ProcessedByteLength; Offsets = @($r.ChangedByteOffsets); Lengths = @($r.ChangedByteLengths) } | ConvertTo-Json -Compress`,
        'Listing changes',
      )

    it('CreateReferencePoint returns 0 and a key-only reference; the instance carries one RCT id per disk', async () => {
      const t = sim()
      const vm = t.host.vmByName('a1')
      if (!vm) throw new Error('no VM a1')
      const made = await createPoint(vm.id)
      expect(made).toMatchObject({ ReturnValue: 0, Keys: null, Type: 2, Rct: [expect.stringMatching(/^rctX:[0-9a-f:]{36}:[0-9a-f]{8}$/)] })
      expect([...t.host.rct.points.values()].map((p) => p.instanceId)).toEqual([made.Id])
      expect(t.limits).toEqual([])
    })

    it('GetVirtualDiskChanges: guest writes and checkpoint merges in granules; bounds, unknown ids and missing files are refused', async () => {
      const t = sim()
      const vm = t.host.vmByName('a1')
      if (!vm) throw new Error('no VM a1')
      const base = vm.drives[0]?.path ?? ''
      const rct = ((await createPoint(vm.id)).Rct as string[])[0] ?? ''
      expect(await changes(base, rct, 0, 8 * MiB)).toEqual({ ReturnValue: 0, Processed: 8 * MiB, Offsets: [], Lengths: [] })
      await t.host.guestWrite(vm.id, 0, RCT_BLOCK - 10, Buffer.alloc(20, 1))
      // Writes into a checkpoint's AVHDX reach the base file when the checkpoint is merged (whole 2 MiB blocks).
      const c = await createCheckpoint(t.host, vm, 'tmp', false)
      await t.host.guestWrite(vm.id, 0, 6 * MiB, Buffer.alloc(10, 2))
      await removeCheckpoint(t.host, c)
      expect(await changes(base, rct, 0, 8 * MiB)).toEqual({ ReturnValue: 0, Processed: 8 * MiB, Offsets: [0, 6 * MiB], Lengths: [2 * RCT_BLOCK, 2 * MiB] })
      expect(await changes(base, rct, RCT_BLOCK, RCT_BLOCK)).toEqual({ ReturnValue: 0, Processed: RCT_BLOCK, Offsets: [RCT_BLOCK], Lengths: [RCT_BLOCK] })
      expect((await changes(base, rct, 0, 9 * MiB)).ReturnValue).toBe(32773)
      expect((await changes(base, 'rctX:00000000:0000:0000:0000:000000000000:00000001', 0, MiB)).ReturnValue).toBe(32773)
      expect((await changes('C:\\nope.vhdx', rct, 0, MiB)).ReturnValue).toBe(32779)
      expect(t.limits).toEqual([])
    })

    it('DestroyReferencePoint removes it; classes and methods outside the model fail loudly', async () => {
      const t = sim()
      const before = t.host.rct.points.size
      const destroyed = await json(
        ps`$svc = Get-CimInstance -Namespace ${NS} -ClassName Msvm_VirtualSystemReferencePointService
foreach ($p in @(Get-CimInstance -Namespace ${NS} -ClassName Msvm_VirtualSystemReferencePoint)) { $last = $p }
$r = Invoke-CimMethod -InputObject $svc -MethodName DestroyReferencePoint -Arguments @{ AffectedReferencePoint = $last }
[pscustomobject]@{ ReturnValue = $r.ReturnValue } | ConvertTo-Json -Compress`,
        'Destroying a reference point',
      )
      expect(destroyed).toEqual({ ReturnValue: 0 })
      expect(t.host.rct.points.size).toBe(before - 1)
      expect(t.limits).toEqual([])
      await expect(runner(ps`Get-CimInstance -Namespace ${NS} -ClassName Msvm_VirtualSystemSnapshotService`, { signal: signal(), what: 'An unmodelled class' })).rejects.toThrow()
      await expect(runner(ps`$svc = Get-CimInstance -Namespace ${NS} -ClassName Msvm_ImageManagementService\nInvoke-CimMethod -InputObject $svc -MethodName CreateVirtualHardDisk -Arguments @{}`, { signal: signal(), what: 'An unmodelled method' })).rejects.toThrow()
      expect(t.limits.splice(0)).toEqual([expect.stringMatching(/the CIM class Msvm_VirtualSystemSnapshotService/), expect.stringMatching(/the WMI method Msvm_ImageManagementService\.CreateVirtualHardDisk/)])
    })
  })
})
