/**
 * Hyper-V RCT chains that heal themselves (issue 23), through the engine against the Hyper-V simulator with RCT on
 * (LIFEBOAT_HYPERV_RCT=1): for each way a chain breaks (the reference point gone, the disk's tracking reset so its
 * RCT id changed — also what a host crash that left the tracking files inconsistent does —, GetVirtualDiskChanges
 * failing) backup 2 still succeeds, reads the broken disk whole and says why for that disk, and backup 3 is
 * incremental from backup 2 again — every point byte-exact, no checkpoint and one reference point left on the host.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canRunHyperVSim, startHyperVSim, type HyperVSim } from '../../test-hosts/hyperv-pwsh/sim'
import type { DiskRead } from './backup-job'
import { engineFixture, type EngineFixture } from './testing/linux-fixture'
import { pointDiskBytes } from './testing/point-bytes'

const MiB = 1024 * 1024
const SIZE = 8 * MiB
const NEXT = /This backup reads the whole disk; the next backup is incremental again\.$/

describe.skipIf(!canRunHyperVSim().ok)('Hyper-V: a broken RCT chain heals itself (backup full with a reason, then incremental again)', { timeout: 300_000 }, () => {
  let sim: HyperVSim
  let fx: EngineFixture
  let before: string | undefined

  beforeAll(async () => {
    before = process.env.LIFEBOAT_HYPERV_RCT
    process.env.LIFEBOAT_HYPERV_RCT = '1'
    sim = await startHyperVSim({ diskSizeMiB: 8 })
    await sim.addVm('web', { disks: [randomBytes(SIZE), randomBytes(SIZE)] })
    fx = await engineFixture()
    await fx.call('hosts.add', { kind: 'hyperv', name: 'hv1', address: `${sim.address}:${sim.port}`, user: sim.user, auth: { type: 'key', privateKey: sim.privateKey }, acceptFingerprint: sim.fingerprint })
  }, 120_000)
  afterAll(async () => {
    if (before === undefined) delete process.env.LIFEBOAT_HYPERV_RCT
    else process.env.LIFEBOAT_HYPERV_RCT = before
    await fx.dispose()
    await sim.close()
  })

  const vm = (name: string) => {
    const v = sim.host.vmByName(name)
    if (!v) throw new Error(`no VM ${name}`)
    return v
  }
  const fileOf = (name: string, disk: number) => {
    const f = sim.host.disks.get(vm(name).drives[disk]?.path ?? '')
    if (!f) throw new Error('no disk file')
    return f
  }
  const backup = async (name: string) => {
    const job = await fx.job((await fx.call('backup.start', { host: 'hv1', vm: name, mode: 'hot' })).jobId, 120_000)
    expect(job.state, JSON.stringify(job.log)).toBe('succeeded')
    expect(job.leftBehind).toEqual([])
    const result = job.result as { id: string; reads: DiskRead[] }
    for (const [i, r] of result.reads.entries()) expect((await pointDiskBytes(fx.engine, result.id, r.disk)).equals(await sim.host.guestRead(vm(name).id, i, 0, SIZE))).toBe(true)
    // Nothing of the backup stays on the host but the one reference point the restore point refers to.
    expect(sim.host.checkpointsOf(vm(name).id)).toEqual([])
    expect([...sim.host.rct.points.values()].filter((p) => p.vmId === vm(name).id)).toHaveLength(1)
    return { id: result.id, reads: result.reads, log: job.log.map((l) => `${l.level}: ${l.message}`).join('\n') }
  }
  const write = async (name: string, at: number) => {
    for (const i of vm(name).drives.keys()) await sim.host.guestWrite(vm(name).id, i, at + i * MiB, randomBytes(5000))
  }

  /** The previous restore point of each VM, so each fault starts from an intact chain (its heal checked by the one before). */
  const last = new Map<string, string>()
  /** (Backup 1 when the VM has none,) writes, the fault, backup 2: full for the broken disks with their reasons; writes, backup 3 incremental. */
  const heals = async (name: string, breakIt: () => void, reasons: Readonly<Record<string, RegExp>>) => {
    let base = last.get(name)
    if (base === undefined) {
      const first = await backup(name)
      expect(first.reads.every((r) => r.read === 'full')).toBe(true)
      base = first.id
    }
    await write(name, 1 * MiB)
    breakIt()
    const second = await backup(name)
    expect(second.reads.map((r) => r.disk)).toEqual(vm(name).drives.map((_, i) => `SCSI 0:${i}`))
    for (const r of second.reads) {
      const why = reasons[r.disk]
      if (why === undefined) expect(r).toEqual({ disk: r.disk, read: 'incremental', base })
      else {
        expect(r).toMatchObject({ disk: r.disk, read: 'full', reason: expect.stringMatching(why) })
        const reason = r.read === 'full' ? r.reason : ''
        expect(reason).toMatch(NEXT)
        expect(second.log).toContain(`warn: ${reason}`)
      }
    }
    await write(name, 5 * MiB)
    const third = await backup(name)
    expect(third.reads).toEqual(vm(name).drives.map((_, i) => ({ disk: `SCSI 0:${i}`, read: 'incremental', base: second.id })))
    expect(third.log).not.toMatch(/^warn:/m)
    expect(sim.limits).toEqual([])
    last.set(name, third.id)
  }

  // One VM with two disks for every fault (run in this order): fewer backups, and each reason shown on its own disk.
  it('the reference point gone (deleted, or lost when the host crashed): not trusted although the ids still answer', async () => {
    const gone = /: Resilient Change Tracking: the reference point of the previous backup \(.*\) is gone from the host/
    await heals('web', () => expect(sim.host.rct.losePoints(vm('web').id)).toBe(1), { 'SCSI 0:0': gone, 'SCSI 0:1': gone })
  })

  it('one disk’s RCT id changed (tracking reset, as after a crash left its tracking files inconsistent): only that disk is read whole', async () => {
    const old = [...sim.host.rct.points.keys()]
    await heals('web', () => sim.host.rct.reset(fileOf('web', 1)), { 'SCSI 0:1': /^SCSI 0:1: .*Hyper-V could not list the changes .*return value 32773.*stale reference point is removed/ })
    expect(sim.host.rct.points.size).toBe(1)
    expect(old.filter((k) => sim.host.rct.points.has(k))).toEqual([])
  })

  it('GetVirtualDiskChanges failing with a documented return value (for the first disk)', async () => {
    await heals('web', () => void (sim.host.rct.failChanges = 32775), { 'SCSI 0:0': /^SCSI 0:0: .*return value 32775 \(invalid state/ })
    expect(sim.host.rct.failChanges).toBeUndefined()
  })
})
