/**
 * The Hyper-V adapter inside Lifeboat's one backup/restore/snapshot pipeline (the engine's handlers and jobs), against
 * the simulator: guest bytes in a restore point, files in a live checkpoint, a restored VM's disk.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { engineFixture, type EngineFixture } from '../../engine/jobs/testing/linux-fixture'
import { makeExt } from '../../engine/filesystems/testing/fixtures'
import { canRunHyperVSim, startHyperVSim, type HyperVSim } from '../hyperv-pwsh/sim'
import { pointDiskBytes } from '../../engine/jobs/testing/point-bytes'

const MiB = 1024 * 1024

async function ext4Image(dir: string, files: Record<string, string>, name: string): Promise<Buffer> {
  const src = path.join(dir, `${name}-files`)
  await mkdir(src, { recursive: true })
  for (const [f, text] of Object.entries(files)) await writeFile(path.join(src, f), text)
  const image = path.join(dir, `${name}.img`)
  await makeExt(image, src, { sizeMiB: 16, kind: 'ext4' })
  return await readFile(image)
}

describe.skipIf(!canRunHyperVSim().ok)('Hyper-V through the engine: backup, browse a live checkpoint, restore, snapshot before patching', { timeout: 300_000 }, () => {
  let sim: HyperVSim
  let fx: EngineFixture
  let dir: string
  let v1: Buffer
  let v2: Buffer
  const VM = "files 'web' $(01)"

  const pointBytes = (pointId: string, disk: string): Promise<Buffer> => pointDiskBytes(fx.engine, pointId, disk)
  const readGuestFile = async (source: { kind: 'snapshot'; host: string; vm: string; snapshot: string }, file: string): Promise<string> => {
    const parts: Buffer[] = []
    for await (const chunk of fx.engine.browse.readFile(source, undefined, file, AbortSignal.timeout(60_000))) parts.push(chunk)
    return Buffer.concat(parts).toString('utf8')
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lb-hv-pipeline-'))
    v1 = await ext4Image(dir, { 'hello.txt': 'version one\n', 'notes.txt': 'keep\n' }, 'v1')
    v2 = await ext4Image(dir, { 'hello.txt': 'version two, patched\n', 'notes.txt': 'keep\n' }, 'v2')
    sim = await startHyperVSim({ diskSizeMiB: 16 })
    await sim.addVm(VM, { disks: [v1] })
    fx = await engineFixture()
    await fx.call('hosts.add', { kind: 'hyperv', name: 'hv1', address: `${sim.address}:${sim.port}`, user: sim.user, auth: { type: 'key', privateKey: sim.privateKey }, acceptFingerprint: sim.fingerprint })
  }, 120_000)

  afterAll(async () => {
    await fx.dispose()
    await sim.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('lists the VM and backs it up hot into the repository: the restore point holds the guest bytes', async () => {
    const { vms } = await fx.call('vms.list', { host: 'hv1' })
    expect(vms.map((v) => v.name)).toContain(VM)
    const modes = await fx.call('backup.modes', { host: 'hv1', vm: VM })
    expect(modes.find((m) => m.mode === 'hot')).toMatchObject({ available: true, consistency: 'app' })
    const { jobId } = await fx.call('backup.start', { host: 'hv1', vm: VM, mode: 'hot' })
    const job = await fx.job(jobId, 120_000)
    expect(job.state, JSON.stringify(job.log)).toBe('succeeded')
    const point = job.result as { id: string; consistency: string }
    expect(point.consistency).toBe('app')
    const vm = sim.host.vmByName(VM)
    if (!vm) throw new Error('VM gone')
    expect((await pointBytes(point.id, 'SCSI 0:0')).equals(await sim.host.guestRead(vm.id, 0, 0, 16 * MiB))).toBe(true)
    expect(sim.host.checkpointsOf(vm.id)).toEqual([])
    expect(sim.limits).toEqual([])
  })

  it('cold backup through the job shuts the VM down and starts it again', async () => {
    const { jobId } = await fx.call('backup.start', { host: 'hv1', vm: VM, mode: 'cold', shutdownTimeoutSec: 30 })
    const job = await fx.job(jobId, 120_000)
    expect(job.state, JSON.stringify(job.log)).toBe('succeeded')
    expect((job.result as { consistency: string }).consistency).toBe('offline')
    expect(sim.host.vmByName(VM)?.state).toBe('Running')
  })

  it('snapshot before patching, browse the live checkpoint\'s files while the guest is patched, revert', async () => {
    const snap = await fx.call('snapshots.create', { host: 'hv1', vm: VM, label: 'before patching' })
    expect(snap).toMatchObject({ lifeboat: true, purpose: 'before-patching' })
    const vm = sim.host.vmByName(VM)
    if (!vm) throw new Error('VM gone')
    await sim.host.guestWrite(vm.id, 0, 0, v2)
    const source = { kind: 'snapshot' as const, host: 'hv1', vm: VM, snapshot: snap.id }
    const listing = await fx.call('files.list', { source, path: '/' })
    expect(listing.entries.map((e) => e.name)).toEqual(expect.arrayContaining(['hello.txt', 'notes.txt']))
    expect(await readGuestFile(source, '/hello.txt')).toBe('version one\n')
    const out = path.join(dir, 'restored-files')
    await mkdir(out)
    const { jobId } = await fx.call('files.restore', { source, paths: ['/hello.txt'], toDirectory: out })
    expect((await fx.job(jobId, 60_000)).state).toBe('succeeded')
    expect(await readFile(path.join(out, 'hello.txt'), 'utf8')).toBe('version one\n')
    // A hot backup now reads an AVHDX whose parent (the "before patching" disk) the engine opens over SFTP too.
    const backup = await fx.job((await fx.call('backup.start', { host: 'hv1', vm: VM, mode: 'hot' })).jobId, 120_000)
    expect(backup.state, JSON.stringify(backup.log)).toBe('succeeded')
    expect((await pointBytes((backup.result as { id: string }).id, 'SCSI 0:0')).equals(await sim.host.guestRead(vm.id, 0, 0, 16 * MiB))).toBe(true)
    expect(sim.host.checkpointsOf(vm.id).map((c) => c.id)).toEqual([snap.id])
    // Put the old file back into the running (patched) guest, through Guest Service Interface.
    const toGuest = { source, path: '/hello.txt', host: 'hv1', vm: VM, guestPath: 'C:\\inetpub\\hello.txt' }
    const refused = await fx.job((await fx.call('files.restoreToGuest', toGuest)).jobId, 60_000)
    expect(refused.state).toBe('failed')
    expect(refused.error?.message).toMatch(/Guest Service Interface/)
    vm.integration.set('Guest Service Interface', true)
    const copied = await fx.job((await fx.call('files.restoreToGuest', toGuest)).jobId, 60_000)
    expect(copied.state, JSON.stringify(copied.log)).toBe('succeeded')
    expect(vm.guest.copiedIn.get('C:\\inetpub\\hello.txt')?.toString()).toBe('version one\n')
    await fx.engine.browse.close()
    await fx.call('snapshots.revert', { host: 'hv1', vm: VM, snapshot: snap.id, confirm: true, start: true })
    expect((await sim.host.guestRead(vm.id, 0, 0, 16 * MiB)).equals(v1)).toBe(true)
    await fx.call('snapshots.remove', { host: 'hv1', vm: VM, snapshot: snap.id })
    expect(sim.host.checkpointsOf(vm.id)).toEqual([])
  })

  it('restores the restore point as a new VM whose disk holds the same guest bytes', async () => {
    const points = await fx.call('points.list', {})
    const point = points[0]
    if (!point) throw new Error('no restore point')
    const { jobId } = await fx.call('restore.start', { point: point.id, toHost: 'hv1', as: 'restored copy', start: true })
    const job = await fx.job(jobId, 120_000)
    expect(job.state, JSON.stringify(job.log)).toBe('succeeded')
    const result = job.result as { vmId: string; disks: { path: string; format: string }[] }
    expect(result.disks[0]?.format).toBe('vhdx')
    const restored = sim.host.vms.get(result.vmId)
    expect(restored).toMatchObject({ name: 'restored copy', generation: 2, state: 'Running' })
    expect((await sim.host.guestRead(result.vmId, 0, 0, 16 * MiB)).equals(await pointBytes(point.id, 'SCSI 0:0'))).toBe(true)
    expect(await fx.call('leftovers.list', { host: 'hv1' })).toEqual([])
    expect(sim.limits).toEqual([])
  })
})
