import { execFile } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { backupOptions, canRunHyperVSim, readAll, simWithAdapter, type SimAndAdapter } from '../../test-hosts/hyperv-sim/testing'
import { detachCheckpoint, mergeCheckpointFiles } from '../../test-hosts/hyperv-sim/hyperv/checkpoint-ops'
import type { SimVm } from '../../test-hosts/hyperv-sim/hyperv/host'
import { modesFor } from './backup'
import { waitForMerge } from './merge'
import type { PowerShellRunner } from './ps-runner'
import type * as PowerShellModule from './powershell'
import type { PsRaw } from './powershell'
import { VmRecord } from './schemas'
import type { VmDetails } from './vm-details'
import { hypervState } from './vm-state'
import { hasQemuImg, scsiDiskInput } from './testing/disk-input'

/** What real Hyper-V hosts do that the adapter and its test host once assumed otherwise (issue 22). */

/**
 * Lines put in front of every script the adapter sends (where the script becomes the bytes for the host), to give a
 * session what a mixed host's session may have: another module's commands of the same names.
 */
const session = vi.hoisted(() => ({ prefix: '' }))
vi.mock('./powershell', async (importOriginal) => {
  const real = await importOriginal<typeof PowerShellModule>()
  return { ...real, scriptStdin: (script: PsRaw): string => real.scriptStdin(new real.PsRaw(`${session.prefix}${script.text}`)) }
})

/**
 * VMware PowerCLI (module VMware.VimAutomation.Core) exports Get-VM, New-VM, Remove-VM, Set-VM, Start-VM, Stop-VM,
 * Restart-VM, Suspend-VM and Get-VMHost too; imported in a session (or found first on PSModulePath: it installs under
 * Program Files, before System32's Hyper-V), its commands answer the unqualified names. This one lies (a vCenter VM)
 * or fails, so a script that reaches it shows.
 */
const POWERCLI = `New-Module -Name 'VMware.VimAutomation.Core' -ScriptBlock {
  function Get-VM { [pscustomobject]@{ Id = '11111111-2222-3333-4444-555555555555'; Name = 'a vCenter VM'; State = 2; Generation = 2; CheckpointType = 3; ProcessorCount = 1; MemoryStartup = 1 } }
  function Get-VMHost { throw 'PowerCLI: you are not connected to any vCenter server' }
  function Set-VM { throw 'PowerCLI: you are not connected to any vCenter server' }
  function Start-VM { throw 'PowerCLI: you are not connected to any vCenter server' }
  function Stop-VM { throw 'PowerCLI: you are not connected to any vCenter server' }
  function New-VM { throw 'PowerCLI: you are not connected to any vCenter server' }
  function Remove-VM { throw 'PowerCLI: you are not connected to any vCenter server' }
  Export-ModuleMember -Function *
} | Import-Module -Global
`

const signal = () => AbortSignal.timeout(120_000)
const MiB = 1024 * 1024
const VM_ID = '5a1b2c3d-0000-4000-8000-00000000abcd'

function vmRecord(state: number | string) {
  return VmRecord.parse({ Id: VM_ID, Name: 'x', State: state, Generation: 2, CheckpointType: 3, ProcessorCount: 1, MemoryStartup: 1 })
}

describe('the whole VMState enum (point 7)', () => {
  it('reads every member by number, critical ones included, and maps them to power states', () => {
    expect(vmRecord(32785).State).toBe('RunningCritical')
    expect(vmRecord(32796).State).toBe('FastSavingCritical')
    expect(vmRecord(32783).State).toBe('Hibernated')
    expect(hypervState('RunningCritical')).toBe('running')
    expect(hypervState('OffCritical')).toBe('halted')
    expect(hypervState('SavedCritical')).toBe('suspended')
    expect(hypervState('PausedCritical')).toBe('paused')
    expect(hypervState('ForceShutdown')).toBe('running')
  })

  it('a critical VM cannot be backed up, and the reason says why in words', () => {
    const d: VmDetails = { vm: vmRecord(32785), drives: [{ VMId: VM_ID, Path: 'C:\\x.vhdx', ControllerType: 'SCSI', ControllerNumber: 0, ControllerLocation: 0 }], vhds: new Map(), vhdErrors: new Map(), snapshots: [], integration: [], nics: [] }
    for (const m of modesFor(d)) expect(m).toMatchObject({ available: false, reason: expect.stringContaining("running-critical (Hyper-V cannot use the VM's storage") })
  })
})

describe('waiting for a background merge (point 1)', () => {
  it('is bounded: a merge still running after the limit fails plainly, having changed nothing', async () => {
    let polls = 0
    const runner: PowerShellRunner = () => {
      polls++
      return Promise.resolve('{"Name":"db","Status":"Merging disks (40%)","OperationalStatus":[2,32772],"SecondaryOperationalStatus":32772}')
    }
    await expect(waitForMerge(runner, VM_ID, signal(), { maxMs: 50, pollMs: 10, what: 'The backup' })).rejects.toMatchObject({ code: 'COMMAND_FAILED', params: { reason: 'merge-in-progress' }, message: expect.stringContaining('Hyper-V is still merging the disks of db') })
    expect(polls).toBeGreaterThan(1)
  })
})

describe.skipIf(!canRunHyperVSim().ok)('against the Hyper-V test host', { timeout: 300_000 }, () => {
  let t: SimAndAdapter
  beforeAll(async () => {
    t = await simWithAdapter({ vms: ['web', 'db'] })
  })
  afterAll(async () => t.close())

  it('point 7: a VM in a critical state is listed with its state, not as Unknown(32785)', async () => {
    const vm = t.vm('db')
    vm.state = 'RunningCritical'
    try {
      const inv = await t.adapter.inventory(signal())
      const seen = inv.vms.find((v) => v.id === vm.id)
      expect(seen?.powerState).toBe('running')
      expect(seen?.facts).toContainEqual({ label: 'State', value: expect.stringMatching(/^running-critical/) })
      expect(t.sim.limits).toEqual([])
    } finally {
      vm.state = 'Running'
    }
  })

  it('point 9: with PowerCLI in the session, the adapter still gets Hyper-V\'s cmdlets (module-qualified names)', async () => {
    session.prefix = POWERCLI
    try {
      const inv = await t.adapter.inventory(signal())
      expect(inv.vms.map((v) => v.name).sort()).toEqual(['db', 'web'])
      const vm = t.vm('web')
      const cold = await t.adapter.backup.begin(vm.id, backupOptions({ mode: 'cold', jobId: randomUUID() }), signal())
      expect(vm.state).toBe('Off')
      expect(await cold.finish(signal())).toEqual({ leftBehind: [] })
      expect(vm.state).toBe('Running')
      // Not quiesced: the checkpoint type goes to Standard (Set-VM) for the checkpoint and back after.
      const hot = await t.adapter.backup.begin(vm.id, backupOptions({ mode: 'hot', jobId: randomUUID(), quiesce: false }), signal())
      expect(await hot.finish(signal())).toEqual({ leftBehind: [] })
      expect([vm.checkpointType, t.sim.host.checkpointsOf(vm.id).length]).toEqual(['Production', 0])
      expect(t.sim.limits).toEqual([])
    } finally {
      session.prefix = ''
    }
  })

  it('point 8: a user without Hyper-V rights gets PERMISSION_DENIED, while a host without VMs is just empty', async () => {
    const host = t.sim.host
    host.rights = 'none'
    try {
      await expect(t.adapter.inventory(signal())).rejects.toMatchObject({ code: 'PERMISSION_DENIED', params: { reason: 'no-hyperv-rights' }, message: expect.stringMatching(/lists no VMs to .* Add the SSH user to the local group Hyper-V Administrators/) })
    } finally {
      host.rights = 'full'
    }
    const vms = [...host.vms]
    host.vms.clear()
    try {
      expect((await t.adapter.inventory(signal())).vms).toEqual([])
    } finally {
      for (const [id, vm] of vms) host.vms.set(id, vm)
    }
    expect(t.sim.limits).toEqual([])
  })

  it('point 2: a deleted VHDX and a pass-through disk are shown on their VMs; the others list and back up', async () => {
    const host = t.sim.host
    const broken = await t.sim.addVm('broken')
    const physical = await t.sim.addVm('physical')
    try {
      const lost = broken.drives[0]?.path ?? ''
      await host.disks.remove(lost)
      physical.drives.push({ id: randomUUID().toUpperCase(), controllerType: 'SCSI', controllerNumber: 0, controllerLocation: 1, path: '', diskNumber: 2 })
      const inv = await t.adapter.inventory(signal())
      expect(inv.vms.map((v) => v.name).sort()).toEqual(['broken', 'db', 'physical', 'web'])
      const seenBroken = inv.vms.find((v) => v.id === broken.id)
      expect(seenBroken?.disks[0]).toMatchObject({ location: lost, format: 'unreadable' })
      expect(seenBroken?.facts).toContainEqual({ label: 'Disk SCSI 0:0', value: expect.stringContaining(`The disk file ${lost} of SCSI 0:0 cannot be read by Hyper-V`) })
      const seenPhysical = inv.vms.find((v) => v.id === physical.id)
      expect(seenPhysical?.disks[1]).toMatchObject({ location: 'host disk 2', format: 'pass-through' })
      expect(seenPhysical?.disks[0]?.format).toBe('vhdx')
      await expect(t.adapter.backup.begin(broken.id, backupOptions({ mode: 'hot', jobId: randomUUID() }), signal())).rejects.toMatchObject({ code: 'NOT_SUPPORTED', message: expect.stringContaining(lost) })
      await expect(t.adapter.backup.begin(physical.id, backupOptions({ mode: 'cold', jobId: randomUUID() }), signal())).rejects.toMatchObject({ code: 'NOT_SUPPORTED', message: expect.stringContaining('SCSI 0:1 is a pass-through (physical) disk (host disk 2)') })
      expect(broken.state).toBe('Running')
      const healthy = await t.adapter.backup.begin(t.vm('db').id, backupOptions({ mode: 'hot', jobId: randomUUID() }), signal())
      expect(healthy.disks).toHaveLength(1)
      expect(await healthy.finish(signal())).toEqual({ leftBehind: [] })
      expect(t.sim.limits).toEqual([])
    } finally {
      host.vms.delete(broken.id)
      host.vms.delete(physical.id)
    }
  })

  it('point 6: a paused VM\'s checkpoint is crash-consistent, with the reason; a required quiesce is refused', async () => {
    const vm = t.vm('web')
    vm.state = 'Paused'
    try {
      const modes = await t.adapter.backup.modes(vm.id, signal())
      expect(modes.find((m) => m.mode === 'hot')).toMatchObject({ available: true, consistency: 'crash' })
      const options = backupOptions({ mode: 'hot', jobId: randomUUID() })
      const session = await t.adapter.backup.begin(vm.id, options, signal())
      expect(session.consistency).toBe('crash')
      expect(options.logged.join('\n')).toMatch(/web is paused: VSS inside a paused guest cannot quiesce/)
      expect(await session.finish(signal())).toEqual({ leftBehind: [] })
      await expect(t.adapter.backup.begin(vm.id, backupOptions({ mode: 'hot', jobId: randomUUID(), quiesceRequired: true }), signal())).rejects.toMatchObject({ code: 'NOT_SUPPORTED', params: { reason: 'vm-paused' } })
      expect(t.sim.host.checkpointsOf(vm.id)).toEqual([])
      expect(t.sim.limits).toEqual([])
    } finally {
      vm.state = 'Running'
    }
  })

  it('point 1: Lifeboat waits for the background merge after a checkpoint removal before touching the disks again', async () => {
    const host = t.sim.host
    const vm = t.vm('db')
    host.timing.backgroundMergeMs = 3000
    try {
      // Not quiesced: the checkpoint type goes to Standard for the checkpoint; putting it back comes after the merge.
      const options = backupOptions({ mode: 'hot', jobId: randomUUID(), quiesce: false })
      const first = await t.adapter.backup.begin(vm.id, options, signal())
      expect(await first.finish(signal())).toEqual({ leftBehind: [] })
      expect([vm.merging, vm.checkpointType, host.checkpointsOf(vm.id)]).toEqual([false, 'Production', []])
      // A checkpoint removed by someone else just before: the next backup waits until the merge is done.
      await t.adapter.snapshots.create(vm.id, { label: 'admin' }, signal())
      const [c] = host.checkpointsOf(vm.id)
      if (c === undefined) throw new Error('no checkpoint')
      vm.state = 'Off'
      host.timing.backgroundMergeMs = 8000
      detachCheckpoint(host, c)
      host.mergeInBackground(vm, (pace) => mergeCheckpointFiles(host, c, pace))
      const cancelled = AbortSignal.timeout(1200)
      await expect(t.adapter.backup.begin(vm.id, backupOptions({ mode: 'cold', jobId: randomUUID() }), cancelled)).rejects.toMatchObject({ code: 'CANCELLED' })
      expect(vm.merging).toBe(true)
      const cold = backupOptions({ mode: 'cold', jobId: randomUUID() })
      const session = await t.adapter.backup.begin(vm.id, cold, signal())
      expect(vm.merging).toBe(false)
      expect(cold.logged.join('\n')).toMatch(/Hyper-V is merging the disks of db \(Merging disks\); waiting/)
      expect(session.disks[0]?.readout).toMatchObject({ kind: 'file', file: { path: vm.drives[0]?.path } })
      expect(await session.finish(signal())).toEqual({ leftBehind: [] })
      expect(t.sim.limits).toEqual([])
    } finally {
      host.timing.backgroundMergeMs = 0
      await host.settled()
      vm.state = 'Running'
    }
  })

  /** What a VHDX image holds for the guest, read back by qemu-img (not by the model). */
  async function imageGuestBytes(image: string | Buffer): Promise<Buffer> {
    const dir = await mkdtemp(path.join(tmpdir(), 'lb-hv-merge-'))
    try {
      let file = path.join(dir, 'd.vhdx')
      if (typeof image === 'string') file = image
      else await writeFile(file, image)
      await promisify(execFile)('qemu-img', ['convert', '-q', '-f', 'vhdx', '-O', 'raw', file, path.join(dir, 'd.raw')])
      return await readFile(path.join(dir, 'd.raw'))
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }
  const guestBytes = (winPath: string) => imageGuestBytes(t.sim.host.fs.toLocal(winPath))

  /**
   * An Off VM whose checkpoint an admin has just removed: the guest wrote after the checkpoint in three of the four
   * 2 MiB AVHDX blocks, and the merge now rewrites the base file piece by piece for `ms`. What the model's
   * Remove-VMSnapshot does on the host (the checkpoint leaves the tree at once, the merge goes on in the background).
   */
  async function mergingOffVm(name: string, ms: number): Promise<{ vm: SimVm; base: string; merged: Buffer }> {
    const host = t.sim.host
    const content = randomBytes(8 * MiB)
    const vm = await t.sim.addVm(name, { disks: [content], state: 'Off' })
    const base = vm.drives[0]?.path ?? ''
    await t.adapter.snapshots.create(vm.id, { label: 'admin' }, signal())
    const [c] = host.checkpointsOf(vm.id)
    if (c === undefined) throw new Error('no checkpoint')
    const merged = Buffer.from(content)
    for (const at of [MiB / 2, 3 * MiB + 1, 7 * MiB]) {
      const data = randomBytes(4096)
      await host.guestWrite(vm.id, 0, at, data)
      data.copy(merged, at)
    }
    expect(vm.drives[0]?.path).not.toBe(base)
    host.timing.backgroundMergeMs = ms
    detachCheckpoint(host, c)
    host.mergeInBackground(vm, (pace) => mergeCheckpointFiles(host, c, pace))
    return { vm, base, merged }
  }

  it.skipIf(!hasQemuImg)('point 1: an in-place restore right after a checkpoint removal waits for the merge, then writes the restore point, which stays', async () => {
    const host = t.sim.host
    const { vm, base } = await mergingOffVm('merge-restore', 5000)
    try {
      const point = randomBytes(8 * MiB)
      const config = { family: 'hyperv', id: vm.id, name: vm.name, generation: 2, processorCount: 1, memoryStartup: 512 * MiB, dynamicMemory: false, checkpointType: 'Production', drives: [], nics: [] }
      const logged: string[] = []
      const result = await t.adapter.restore.restoreVm(
        { vmConfig: config, name: vm.id, inPlace: true, start: false, disks: [scsiDiskInput(point, 0, 0)], log: (_l, m) => logged.push(m), phase: () => undefined, progress: () => undefined },
        signal(),
      )
      expect(logged.join('\n')).toMatch(/Hyper-V is merging the disks of merge-restore \(Merging disks\); waiting/)
      expect(vm.merging).toBe(false)
      expect(result.leftBehind).toEqual([])
      // The merge ended before the restore touched the disk: the VM is back on its base file, which holds the point.
      expect(vm.drives[0]?.path).toBe(base)
      expect((await guestBytes(base)).equals(point), 'the disk holds the restore point').toBe(true)
      await host.settled()
      await new Promise((r) => setTimeout(r, 300))
      expect((await guestBytes(base)).equals(point), 'nothing rewrote the disk after the restore').toBe(true)
      // No AVHDX left, nothing staged or set aside by the restore: the VM's only disk file is its base.
      const stem = base.replace(/\.vhdx$/i, '').toLowerCase()
      expect(host.disks.all().filter((f) => f.path.toLowerCase().startsWith(stem)).map((f) => f.path)).toEqual([base])
      expect(t.sim.limits).toEqual([])
    } finally {
      host.timing.backgroundMergeMs = 0
      await host.settled()
      host.vms.delete(vm.id)
    }
  })

  it.skipIf(!hasQemuImg)('point 1: reading an Off VM\'s disk right after a checkpoint removal waits, and the point holds the merged disk', async () => {
    const host = t.sim.host
    const { vm, base, merged } = await mergingOffVm('merge-read', 5000)
    try {
      const cold = backupOptions({ mode: 'cold', jobId: randomUUID() })
      const session = await t.adapter.backup.begin(vm.id, cold, signal())
      expect(vm.merging).toBe(false)
      expect(cold.logged.join('\n')).toMatch(/Hyper-V is merging the disks of merge-read \(Merging disks\); waiting/)
      const readout = session.disks[0]?.readout
      if (readout?.kind !== 'file') throw new Error('expected a file readout')
      expect(readout.file.path).toBe(base)
      // The readout is the VHDX file as it lies on the host, read over SFTP; the engine decodes it, qemu-img here.
      const read = await imageGuestBytes(await readAll(readout.file))
      expect(await session.finish(signal())).toEqual({ leftBehind: [] })
      expect(read.equals(merged), 'the point holds the disk as the merge left it').toBe(true)
      expect((await guestBytes(base)).equals(merged)).toBe(true)
      expect(t.sim.limits).toEqual([])
    } finally {
      host.timing.backgroundMergeMs = 0
      await host.settled()
      host.vms.delete(vm.id)
    }
  })
})
