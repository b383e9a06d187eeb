/**
 * Resilient Change Tracking incrementals (LIFEBOAT_HYPERV_RCT=1) through the engine against the simulator: the second
 * hot backup reads only what Hyper-V reports as changed, the restore point still holds the exact guest bytes, and an
 * RCT id the host no longer knows makes a full read with a warning.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { engineFixture, type EngineFixture } from '../../engine/jobs/testing/linux-fixture'
import { RCT_BLOCK } from './hyperv/rct'
import { canRunHyperVSim, startHyperVSim, type HyperVSim } from '../hyperv-pwsh/sim'
import { pointDiskBytes } from '../../engine/jobs/testing/point-bytes'

const MiB = 1024 * 1024
const SIZE = 64 * MiB
const VM = "rct 'web' $(1)"

describe.skipIf(!canRunHyperVSim().ok)('Hyper-V RCT incrementals through the engine (flag on)', { timeout: 300_000 }, () => {
  let sim: HyperVSim
  let fx: EngineFixture
  let before: string | undefined

  const pointBytes = (pointId: string): Promise<Buffer> => pointDiskBytes(fx.engine, pointId, 'SCSI 0:0')
  const vm = () => {
    const v = sim.host.vmByName(VM)
    if (!v) throw new Error('VM gone')
    return v
  }
  /** Bytes served over SFTP from the VM's base VHDX since the last call. */
  const readFromBase = () => {
    const key = (vm().drives[0]?.path ?? '').toLowerCase()
    const n = sim.host.bytesRead.get(key) ?? 0
    sim.host.bytesRead.clear()
    return n
  }
  const backup = async () => {
    const { jobId } = await fx.call('backup.start', { host: 'hv1', vm: VM, mode: 'hot' })
    const job = await fx.job(jobId, 120_000)
    const log = JSON.stringify(job.log)
    expect(job.state, log).toBe('succeeded')
    return { id: (job.result as { id: string }).id, log }
  }

  beforeAll(async () => {
    before = process.env.LIFEBOAT_HYPERV_RCT
    process.env.LIFEBOAT_HYPERV_RCT = '1'
    sim = await startHyperVSim({ diskSizeMiB: 64 })
    await sim.addVm(VM, { disks: [randomBytes(SIZE)] })
    fx = await engineFixture()
    await fx.call('hosts.add', { kind: 'hyperv', name: 'hv1', address: `${sim.address}:${sim.port}`, user: sim.user, auth: { type: 'key', privateKey: sim.privateKey }, acceptFingerprint: sim.fingerprint })
  }, 120_000)

  afterAll(async () => {
    if (before === undefined) delete process.env.LIFEBOAT_HYPERV_RCT
    else process.env.LIFEBOAT_HYPERV_RCT = before
    await fx.dispose()
    await sim.close()
  })

  it('first backup: full read, a reference point is made and its RCT id kept', async () => {
    sim.host.bytesRead.clear()
    const first = await backup()
    expect(readFromBase()).toBeGreaterThanOrEqual(SIZE)
    expect((await pointBytes(first.id)).equals(await sim.host.guestRead(vm().id, 0, 0, SIZE))).toBe(true)
    expect([...sim.host.rct.points.values()].map((p) => p.vmId)).toEqual([vm().id])
    expect(sim.host.rct.calls).toEqual(['Msvm_VirtualSystemReferencePointService.CreateReferencePoint'])
    expect(first.log).not.toMatch(/"warn"/)
    expect(sim.host.checkpointsOf(vm().id)).toEqual([])
    expect(sim.limits).toEqual([])
  })

  it('second backup after a known guest write reads only the changed ranges; the point is byte-identical', async () => {
    const oldPoint = [...sim.host.rct.points.keys()]
    const at = 37 * MiB + 12_345
    await sim.host.guestWrite(vm().id, 0, at, randomBytes(10_000))
    sim.host.rct.calls.length = 0
    const second = await backup()
    const read = readFromBase()
    // Image structures plus the remote reader's 4 MiB blocks around one changed 256 KiB granule: far below a full read.
    expect(read).toBeGreaterThan(0)
    expect(read).toBeLessThan(SIZE / 4)
    expect(second.log).toMatch(new RegExp(`${RCT_BLOCK} bytes in 1 ranges changed`))
    expect(second.log).not.toMatch(/"warn"/)
    expect((await pointBytes(second.id)).equals(await sim.host.guestRead(vm().id, 0, 0, SIZE))).toBe(true)
    expect(sim.host.rct.calls).toEqual([
      'Msvm_VirtualSystemReferencePointService.CreateReferencePoint',
      'Msvm_ImageManagementService.GetVirtualDiskChanges',
      'Msvm_VirtualSystemReferencePointService.DestroyReferencePoint',
    ])
    // The previous reference point is gone once the new restore point is written; only the new one is left.
    expect(sim.host.rct.points.size).toBe(1)
    expect([...sim.host.rct.points.keys()]).not.toEqual(oldPoint)
    expect(sim.limits).toEqual([])
  })

  it('an RCT id the host no longer knows: full read with a warning, still the exact guest bytes', async () => {
    const base = sim.host.disks.get(vm().drives[0]?.path ?? '')
    if (!base) throw new Error('no base disk')
    sim.host.rct.reset(base)
    await sim.host.guestWrite(vm().id, 0, 3 * MiB, randomBytes(4096))
    sim.host.bytesRead.clear()
    const third = await backup()
    expect(third.log).toMatch(/SCSI 0:0: Resilient Change Tracking: Hyper-V could not list the changes .*return value 32773.*This backup reads the whole disk; the next backup is incremental again/)
    expect(readFromBase()).toBeGreaterThanOrEqual(SIZE)
    expect((await pointBytes(third.id)).equals(await sim.host.guestRead(vm().id, 0, 0, SIZE))).toBe(true)
    // The tracking that was restarted serves the next incremental again.
    await sim.host.guestWrite(vm().id, 0, 50 * MiB, randomBytes(100))
    const fourth = await backup()
    expect(readFromBase()).toBeLessThan(SIZE / 4)
    expect(fourth.log).not.toMatch(/"warn"/)
    expect((await pointBytes(fourth.id)).equals(await sim.host.guestRead(vm().id, 0, 0, SIZE))).toBe(true)
    expect(sim.host.rct.points.size).toBe(1)
    expect(sim.limits).toEqual([])
  })
})
