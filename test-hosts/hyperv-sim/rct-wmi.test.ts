/**
 * The simulator's WMI model for Resilient Change Tracking: the documented classes, methods, parameters and return
 * values, and change tracking that follows guest writes and checkpoint merges in 256 KiB granules.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCheckpoint, removeCheckpoint } from './hyperv/checkpoint-ops'
import { HyperVHost } from './hyperv/host'
import { FileLocks } from './hyperv/locks'
import { RCT_BLOCK } from './hyperv/rct'
import { knownContent } from './server'
import { ShellHost } from './shell'

const MiB = 1024 * 1024

describe('Hyper-V simulator: RCT over WMI', () => {
  let dir: string
  let host: HyperVHost
  const run = async (script: string): Promise<{ code: number; out: string; err: string }> => {
    const out: Buffer[] = []
    const err: Buffer[] = []
    const shell = new ShellHost(host, new FileLocks(host.fs), { defaultShell: 'cmd', pwsh: true, hypervModule: true })
    const code = await shell.exec(`powershell.exe -NoProfile -NonInteractive -EncodedCommand ${Buffer.from(script, 'utf16le').toString('base64')}`, {
      signal: AbortSignal.timeout(20_000),
      stdin: { readAll: () => Promise.resolve(''), readLine: () => Promise.resolve(null) },
      stdout: (b) => out.push(b),
      stderr: (b) => err.push(b),
    })
    return { code, out: Buffer.concat(out).toString('utf8').trim(), err: Buffer.concat(err).toString('utf8') }
  }
  const json = async (script: string): Promise<Record<string, unknown>> => {
    const r = await run(script)
    expect(r.code, r.err).toBe(0)
    return JSON.parse(r.out) as Record<string, unknown>
  }
  const NS = "$ns = 'root\\virtualization\\v2'\n"
  const createPoint = (vmId: string) => json(`${NS}$cs = Get-CimInstance -Namespace $ns -ClassName Msvm_ComputerSystem -Filter 'Name = ''${vmId}'''
$svc = Get-CimInstance -Namespace $ns -ClassName Msvm_VirtualSystemReferencePointService
$r = Invoke-CimMethod -InputObject $svc -MethodName CreateReferencePoint -Arguments @{ AffectedSystem = $cs; ReferencePointSettings = ''; ReferencePointType = 1 }
$p = Get-CimInstance -InputObject $r.ResultingReferencePoint
[pscustomobject]@{ ReturnValue = $r.ReturnValue; Keys = $r.ResultingReferencePoint.ResilientChangeTrackingIdentifiers; Id = $p.InstanceID; Rct = $p.ResilientChangeTrackingIdentifiers; Type = $p.ReferencePointType } | ConvertTo-Json -Compress`)
  const changes = (file: string, limit: string, offset: number, length: number) => json(`${NS}$svc = Get-CimInstance -Namespace $ns -ClassName Msvm_ImageManagementService
$r = Invoke-CimMethod -InputObject $svc -MethodName GetVirtualDiskChanges -Arguments @{ Path = '${file}'; LimitId = '${limit}'; TargetSnapshotId = ''; ByteOffset = ${offset}; ByteLength = ${length} }
[pscustomobject]@{ ReturnValue = $r.ReturnValue; Processed = $r.ProcessedByteLength; Offsets = @($r.ChangedByteOffsets); Lengths = @($r.ChangedByteLengths) } | ConvertTo-Json -Compress`)

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lb-hvsim-rct-'))
    host = new HyperVHost({ dataDir: dir, timing: { checkpointMs: 0, saveMs: 0, startMs: 0, mergeMs: 0 } })
    await host.addVm({ name: 'web', disks: [knownContent('web', 8 * MiB)] })
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('CreateReferencePoint returns 0 and a key-only reference; the instance carries one RCT id per disk', async () => {
    const vm = host.vmByName('web')
    if (!vm) throw new Error('no VM')
    const made = await createPoint(vm.id)
    expect(made).toMatchObject({ ReturnValue: 0, Keys: null, Type: 2, Rct: [expect.stringMatching(/^rctX:[0-9a-f:]{36}:[0-9a-f]{8}$/)] })
    expect(host.rct.points.size).toBe(1)
  })

  it('GetVirtualDiskChanges: guest writes and checkpoint merges in granules; bounds and unknown ids are refused', async () => {
    const vm = host.vmByName('web')
    if (!vm) throw new Error('no VM')
    const base = vm.drives[0]?.path ?? ''
    const rct = ((await createPoint(vm.id)).Rct as string[])[0] ?? ''
    expect(await changes(base, rct, 0, 8 * MiB)).toEqual({ ReturnValue: 0, Processed: 8 * MiB, Offsets: [], Lengths: [] })
    await host.guestWrite(vm.id, 0, RCT_BLOCK - 10, Buffer.alloc(20, 1))
    // Writes into a checkpoint's AVHDX reach the base file when the checkpoint is merged.
    const c = await createCheckpoint(host, vm, 'tmp', false)
    await host.guestWrite(vm.id, 0, 6 * MiB, Buffer.alloc(10, 2))
    await removeCheckpoint(host, c)
    expect(await changes(base, rct, 0, 8 * MiB)).toEqual({ ReturnValue: 0, Processed: 8 * MiB, Offsets: [0, 6 * MiB], Lengths: [2 * RCT_BLOCK, 2 * MiB] })
    expect(await changes(base, rct, RCT_BLOCK, RCT_BLOCK)).toEqual({ ReturnValue: 0, Processed: RCT_BLOCK, Offsets: [RCT_BLOCK], Lengths: [RCT_BLOCK] })
    expect((await changes(base, rct, 0, 9 * MiB)).ReturnValue).toBe(32773)
    expect((await changes(base, 'rctX:00000000:0000:0000:0000:000000000000:00000001', 0, MiB)).ReturnValue).toBe(32773)
    expect((await changes('C:\\nope.vhdx', rct, 0, MiB)).ReturnValue).toBe(32779)
  })

  it('DestroyReferencePoint removes it; methods and classes outside the model fail loudly', async () => {
    const before = host.rct.points.size
    const r = await json(`${NS}$svc = Get-CimInstance -Namespace $ns -ClassName Msvm_VirtualSystemReferencePointService
foreach ($p in @(Get-CimInstance -Namespace $ns -ClassName Msvm_VirtualSystemReferencePoint)) { $last = $p }
$r = Invoke-CimMethod -InputObject $svc -MethodName DestroyReferencePoint -Arguments @{ AffectedReferencePoint = $last }
[pscustomobject]@{ ReturnValue = $r.ReturnValue } | ConvertTo-Json -Compress`)
    expect(r).toEqual({ ReturnValue: 0 })
    expect(host.rct.points.size).toBe(before - 1)
    await expect(run(`${NS}$svc = Get-CimInstance -Namespace $ns -ClassName Msvm_VirtualSystemSnapshotService`)).rejects.toThrow(/Msvm_VirtualSystemSnapshotService .*not in the simulated PowerShell subset/)
    await expect(run(`${NS}$svc = Get-CimInstance -Namespace $ns -ClassName Msvm_ImageManagementService\nInvoke-CimMethod -InputObject $svc -MethodName CreateVirtualHardDisk -Arguments @{}`)).rejects.toThrow(/WMI method Msvm_ImageManagementService.CreateVirtualHardDisk/)
  })
})
