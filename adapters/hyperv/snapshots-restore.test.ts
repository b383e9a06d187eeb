import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { vmAccountSid } from '../../test-hosts/hyperv-sim/hyperv/acl'
import { knownContent } from '../../test-hosts/hyperv-sim/hyperv/known-content'
import { canRunHyperVSim, simWithAdapter, type SimAndAdapter } from '../../test-hosts/hyperv-sim/testing'
import type { RestoreRequest } from '../host-adapter'
import { restoreDiskInput } from './testing/disk-input'
import { WindowsSftpFile } from './windows-file'

const MiB = 1024 * 1024

function request(over: Partial<RestoreRequest> & Pick<RestoreRequest, 'vmConfig' | 'disks' | 'name'>): RestoreRequest & { logged: string[] } {
  const logged: string[] = []
  return { inPlace: false, start: false, log: (l, m) => logged.push(`${l}: ${m}`), phase: () => undefined, progress: () => undefined, logged, ...over }
}

describe.skipIf(!canRunHyperVSim().ok)('Hyper-V snapshots before patching, live checkpoint disks, restores and guest files against the Hyper-V test host', { timeout: 300_000 }, () => {
  let t: SimAndAdapter
  const signal = () => AbortSignal.timeout(60_000)
  beforeAll(async () => {
    t = await simWithAdapter({ vms: ['patch1', 'source1', "dst 'x' $y", 'files1'] })
  })
  afterAll(async () => {
    await t.close()
  })

  it('snapshot before patching, patch, revert: the guest is back where it was; then discard', async () => {
    const vm = t.vm('patch1')
    const before = await t.sim.host.guestRead(vm.id, 0, 0, 8 * MiB)
    const snap = await t.adapter.snapshots.create(vm.id, { label: 'KB5034439' }, signal())
    expect(snap).toMatchObject({ lifeboat: true, purpose: 'before-patching', label: 'KB5034439', kind: 'external', vmState: 'shutoff', current: true })
    expect(snap.name).toMatch(/^Before patching \d{4}-\d{2}-\d{2} \d{2}:\d{2} - KB5034439 \[Lifeboat\]$/)
    await t.sim.host.guestWrite(vm.id, 0, 2 * MiB, Buffer.alloc(3 * MiB, 0x5a))
    expect((await t.adapter.snapshots.list(vm.id, signal())).map((s) => s.id)).toEqual([snap.id])
    await t.adapter.snapshots.revert(vm.id, snap.id, { start: true }, signal())
    expect(vm.state).toBe('Running')
    expect((await t.sim.host.guestRead(vm.id, 0, 0, 8 * MiB)).equals(before)).toBe(true)
    // By name works too, and a hostile label stays a label.
    const named = await t.adapter.snapshots.create(vm.id, { label: "'; Remove-VMSnapshot * ; '" }, signal())
    await t.adapter.snapshots.remove(vm.id, named.name, signal())
    await t.adapter.snapshots.remove(vm.id, snap.id, signal())
    expect(t.sim.host.checkpointsOf(vm.id)).toEqual([])
    expect(vm.drives[0]?.path).toMatch(/\.vhdx$/)
    expect((await t.sim.host.guestRead(vm.id, 0, 0, 8 * MiB)).equals(before)).toBe(true)
    await expect(t.adapter.snapshots.revert(vm.id, 'no such checkpoint', {}, signal())).rejects.toMatchObject({ code: 'NOT_FOUND' })
    expect(t.sim.limits).toEqual([])
  })

  it('opens a live checkpoint\'s disks in place: the frozen files, while the VM runs on', async () => {
    const vm = t.vm('source1')
    const snap = await t.adapter.snapshots.create(vm.id, { label: 'browse me' }, signal())
    await t.sim.host.guestWrite(vm.id, 0, 0, Buffer.alloc(MiB, 0xee))
    const disks = await t.adapter.snapshots.openDisks?.(vm.id, snap.id, signal())
    const readout = disks?.[0]?.readout
    if (readout?.kind !== 'file') throw new Error('expected a file')
    expect(readout.file.path).toBe(t.sim.host.checkpoints.get(snap.id)?.files.values().next().value)
    expect((await readout.file.readRange(0, readout.file.size)).equals(await readFile(t.sim.host.fs.toLocal(readout.file.path)))).toBe(true)
    await readout.file.close()
    // The running VM's own (active) disk cannot be opened: Windows refuses while the worker process holds it.
    const conn = await t.adapter['ctx'].connection(signal())
    await expect(WindowsSftpFile.open(conn, vm.drives[0]?.path ?? '', signal())).rejects.toMatchObject({ code: 'PERMISSION_DENIED' })
    await expect(t.adapter.snapshots.openDisks?.(vm.id, 'missing', signal())).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await t.adapter.snapshots.remove(vm.id, snap.id, signal())
  })

  it('restores as a new VM: new id, same generation, memory, processors and switch, disk content byte-identical', async () => {
    const src = t.vm('source1')
    src.processorCount = 3
    src.dynamicMemory = true
    const content = knownContent('restore-me', 12 * MiB)
    const config = {
      family: 'hyperv', id: src.id, name: 'source1', generation: 2, version: '10.0', processorCount: 3, memoryStartup: 2048 * MiB, dynamicMemory: true, memoryMinimum: 512 * MiB, memoryMaximum: 4096 * MiB,
      checkpointType: 'Production', notes: null, secureBoot: true, secureBootTemplate: 'MicrosoftUEFICertificateAuthority',
      drives: [{ controllerType: 'SCSI', controllerNumber: 0, controllerLocation: 0, path: 'C:\\x.vhdx', size: 12 * MiB }, { controllerType: 'SCSI', controllerNumber: 1, controllerLocation: 3, path: 'C:\\y.vhdx', size: 4 * MiB }],
      nics: [{ name: 'Network Adapter', switchName: 'LAN', macAddress: '00155D000001', dynamicMac: true }, { name: 'Backup', switchName: 'Gone Switch', macAddress: null, dynamicMac: true }],
    }
    const second = randomBytes(4 * MiB)
    const req = request({
      vmConfig: config,
      name: "restored 'copy' $(x)",
      start: true,
      disks: [restoreDiskInput('SCSI 0:0', content, { controllerType: 'SCSI', controllerNumber: 0, controllerLocation: 0 }), restoreDiskInput('SCSI 1:3', second, { controllerType: 'SCSI', controllerNumber: 1, controllerLocation: 3 })],
    })
    const result = await t.adapter.restore.restoreVm(req, signal())
    expect(result).toMatchObject({ name: "restored 'copy' $(x)", started: true, leftBehind: [] })
    expect(result.vmId).not.toBe(src.id)
    const vm = t.sim.host.vms.get(result.vmId)
    expect(vm).toMatchObject({ generation: 2, processorCount: 3, memoryStartup: 2048 * MiB, dynamicMemory: true, memoryMinimum: 512 * MiB, memoryMaximum: 4096 * MiB, secureBoot: true, secureBootTemplate: 'MicrosoftUEFICertificateAuthority', state: 'Running', scsiControllers: 2 })
    expect(vm?.nics.map((n) => n.switchName)).toEqual(['LAN', null])
    expect(req.logged.join('\n')).toMatch(/no virtual switch "Gone Switch"/)
    expect(vm?.drives.map((d) => `${d.controllerType}${d.controllerNumber}:${d.controllerLocation}`)).toEqual(['SCSI0:0', 'SCSI1:3'])
    expect(result.disks.every((d) => d.format === 'vhdx' && d.path.endsWith('.vhdx'))).toBe(true)
    expect((await t.sim.host.guestRead(result.vmId, 0, 0, 12 * MiB)).equals(content)).toBe(true)
    expect((await t.sim.host.guestRead(result.vmId, 1, 0, 4 * MiB)).equals(second)).toBe(true)
    expect(t.sim.limits).toEqual([])
  })

  it('a restore that fails half-way removes the VM and the files it made', async () => {
    const before = t.sim.host.vms.size
    const config = { family: 'hyperv', id: 'x', name: 'x', generation: 2, processorCount: 1, memoryStartup: 3 * MiB, dynamicMemory: false, checkpointType: 'Production', drives: [], nics: [] }
    const req = request({ vmConfig: config, name: 'bad memory', disks: [restoreDiskInput('SCSI 0:0', Buffer.alloc(4 * MiB, 1))] })
    await expect(t.adapter.restore.restoreVm(req, signal())).rejects.toMatchObject({ code: 'COMMAND_FAILED', params: { psCommand: 'Set-VMMemory' } })
    expect(t.sim.host.vms.size).toBe(before)
    expect(t.sim.host.disks.all().filter((f) => f.path.includes('bad memory'))).toEqual([])
    await expect(t.adapter.restore.restoreVm(request({ vmConfig: { family: 'linux' }, name: 'x', disks: [restoreDiskInput('d', Buffer.alloc(MiB))] }), signal())).rejects.toMatchObject({ code: 'NOT_SUPPORTED' })
  })

  it('replaces the disks of a stopped VM in place (and refuses while it runs or has checkpoints)', async () => {
    const vm = t.vm("dst 'x' $y")
    const config = { family: 'hyperv', id: vm.id, name: vm.name, generation: 2, processorCount: 1, memoryStartup: 1024 * MiB, dynamicMemory: false, checkpointType: 'Production', drives: [{ controllerType: 'SCSI', controllerNumber: 0, controllerLocation: 0, path: vm.drives[0]?.path ?? '', size: 8 * MiB }], nics: [] }
    const content = knownContent('in place', 8 * MiB)
    const disks = [restoreDiskInput('SCSI 0:0', content, { controllerType: 'SCSI', controllerNumber: 0, controllerLocation: 0 })]
    await expect(t.adapter.restore.restoreVm(request({ vmConfig: config, name: vm.name, inPlace: true, disks }), signal())).rejects.toMatchObject({ code: 'COMMAND_FAILED', params: { reason: 'invalid-state' } })
    vm.state = 'Off'
    const snap = await t.adapter.snapshots.create(vm.id, { label: 'x' }, signal())
    await expect(t.adapter.restore.restoreVm(request({ vmConfig: config, name: vm.id, inPlace: true, disks }), signal())).rejects.toMatchObject({ code: 'NOT_SUPPORTED' })
    await t.adapter.snapshots.remove(vm.id, snap.id, signal())
    const path0 = vm.drives[0]?.path ?? ''
    // Hyper-V granted the VM's account access to its disk when it was attached; the restored file must carry it too.
    const acl = t.sim.host.acls.sddl(path0)
    expect(t.sim.host.acls.allows(path0, vmAccountSid(vm.id))).toBe(true)
    const result = await t.adapter.restore.restoreVm(request({ vmConfig: config, name: vm.name, inPlace: true, start: true, disks: [restoreDiskInput('SCSI 0:0', content, { controllerType: 'SCSI', controllerNumber: 0, controllerLocation: 0 })] }), signal())
    expect(result).toMatchObject({ vmId: vm.id, started: true, leftBehind: [], disks: [{ path: path0, format: 'vhdx' }] })
    expect(vm.drives[0]?.path).toBe(path0)
    expect((await t.sim.host.guestRead(vm.id, 0, 0, 8 * MiB)).equals(content)).toBe(true)
    expect(t.sim.host.disks.all().filter((f) => f.path.includes('lifeboat-'))).toEqual([])
    // The file in place has its original's descriptor, so any later Start-VM (by the admin) opens it too.
    expect(t.sim.host.acls.sddl(path0)).toBe(acl)
    expect(vm.state).toBe('Running')
  })

  it('copies a file into the running guest through Guest Service Interface, only when that is on', async () => {
    const vm = t.vm('files1')
    const data = (): AsyncIterable<Buffer> => Readable.from([Buffer.from('restored '), Buffer.from('contents\n')])
    await expect(t.adapter.guestFiles.copyIn(vm.id, { guestPath: 'C:\\Users\\Public\\a.txt', size: 18, data: data(), overwrite: false }, signal())).rejects.toMatchObject({ code: 'NOT_SUPPORTED', params: { reason: 'guest-services-off' } })
    vm.integration.set('Guest Service Interface', true)
    await t.adapter.guestFiles.copyIn(vm.id, { guestPath: "C:\\Users\\Public\\it's $(here).txt", size: 18, data: data(), overwrite: false }, signal())
    expect(vm.guest.copiedIn.get("C:\\Users\\Public\\it's $(here).txt")?.toString()).toBe('restored contents\n')
    await expect(t.adapter.guestFiles.copyIn(vm.id, { guestPath: "C:\\Users\\Public\\it's $(here).txt", size: 18, data: data(), overwrite: false }, signal())).rejects.toMatchObject({ code: 'COMMAND_FAILED' })
    await t.adapter.guestFiles.copyIn(vm.id, { guestPath: "C:\\Users\\Public\\it's $(here).txt", size: 18, data: data(), overwrite: true }, signal())
    // The staging file on the host is gone.
    expect(t.sim.host.disks.all()).not.toContainEqual(expect.objectContaining({ path: expect.stringContaining('staging') }))
    expect(t.sim.limits).toEqual([])
  })
})
