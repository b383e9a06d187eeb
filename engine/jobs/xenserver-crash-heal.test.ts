/**
 * XenServer change-tracking chains that heal themselves (issue 23), through the engine against the XAPI simulator:
 * for each way a chain breaks (CBT disabled and enabled again, CBT reset by the pool after a host crash, the base
 * snapshot destroyed or data-destroyed, list_changed_blocks refusing) backup 2 still succeeds, reads the broken disk
 * whole and says why for that disk, and backup 3 is incremental from backup 2 again — every point byte-exact.
 */
import { readFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { XapiSim } from '../../test-hosts/xapi-sim/sim'
import type { DiskRead } from './backup-job'
import { engineFixture, type EngineFixture } from './testing/linux-fixture'
import { pointDiskBytes } from './testing/point-bytes'

const MiB = 1024 * 1024
const SIZE = 8 * MiB
const NEXT = /This backup reads the whole disk; the next backup is incremental again\./

describe('XenServer: a broken change-tracking chain heals itself (backup full with a reason, then incremental again)', () => {
  let sim: XapiSim
  let fx: EngineFixture

  beforeAll(async () => {
    const vm = (name: string, disks = 1) => ({ name, diskSize: SIZE, disks })
    sim = await XapiSim.start({ vms: [vm('relog'), vm('crash'), vm('gone'), vm('refused'), vm('nodata'), vm('two', 2)] })
    fx = await engineFixture()
    await fx.call('hosts.add', { kind: 'xenserver', name: 'pool1', address: `127.0.0.1:${sim.port}`, user: 'root', auth: { type: 'password', password: sim.password }, acceptFingerprint: sim.fingerprint })
  }, 60_000)
  afterAll(async () => {
    await fx.dispose()
    await sim.stop()
  })

  const uuidOf = (vm: string) => String(sim.vmByName(vm).record.uuid)
  const liveVdi = (vm: string, disk = 0) => sim.disksOf(vm)[disk]?.vdi ?? ''
  /** Lifeboat's reference snapshot on the pool for one disk of a VM. */
  const baseOf = (vm: string, disk = 0) => {
    const live = sim.disksOf(vm)[disk]?.uuid
    const found = sim.lifeboatObjects().filter((o) => o.other['lifeboat:vm'] === uuidOf(vm) && o.other['lifeboat:disk'] === live)
    expect(found).toHaveLength(1)
    return found[0]?.ref ?? ''
  }
  const backup = async (vm: string) => {
    const job = await fx.job((await fx.call('backup.start', { host: 'pool1', vm, mode: 'hot' })).jobId, 120_000)
    expect(job.state, JSON.stringify(job.log)).toBe('succeeded')
    expect(job.leftBehind).toEqual([])
    // Nothing of the backup stays on the pool but one reference per disk.
    const kept = sim.lifeboatObjects().filter((o) => o.other['lifeboat:vm'] === uuidOf(vm))
    expect(kept).toHaveLength(sim.disksOf(vm).length)
    for (const o of kept) expect(o.other['lifeboat:purpose']).toMatch(/^(cbt|delta)-base$/)
    const result = job.result as { id: string; reads: DiskRead[] }
    for (const [i, d] of sim.disksOf(vm).entries()) expect((await pointDiskBytes(fx.engine, result.id, `xvd${'abcd'[i] ?? '?'}`)).equals(await readFile(d.path))).toBe(true)
    return { id: result.id, reads: result.reads, log: job.log.map((l) => `${l.level}: ${l.message}`).join('\n') }
  }
  const write = async (vm: string, at: number) => {
    for (const i of sim.disksOf(vm).keys()) await sim.writeGuest(vm, i, at + i * MiB, Buffer.alloc(4000, 0x5a + at / MiB))
  }

  /** Backup 1, writes, the fault, backup 2 (full for the broken disks, with their reasons), writes, backup 3 incremental. */
  const heals = async (vm: string, breakIt: () => Promise<void> | void, reasons: Readonly<Record<string, RegExp>>) => {
    const first = await backup(vm)
    expect(first.reads.every((r) => r.read === 'full')).toBe(true)
    await write(vm, 1 * MiB)
    await breakIt()
    const second = await backup(vm)
    for (const r of second.reads) {
      const why = reasons[r.disk]
      if (why === undefined) expect(r).toEqual({ disk: r.disk, read: 'incremental', base: first.id })
      else {
        expect(r).toMatchObject({ disk: r.disk, read: 'full', reason: expect.stringMatching(why) })
        const reason = r.read === 'full' ? r.reason : ''
        expect(reason).toMatch(NEXT)
        expect(second.log).toContain(`warn: ${reason}`)
      }
    }
    await write(vm, 5 * MiB)
    const third = await backup(vm)
    expect(third.reads).toEqual(sim.disksOf(vm).map((_, i) => ({ disk: `xvd${'abcd'[i] ?? '?'}`, read: 'incremental', base: second.id })))
    expect(third.log).not.toMatch(/^warn:/m)
  }

  it('CBT disabled and enabled again between backups: the old reference no longer compares, it is dropped', async () => {
    await heals('relog', () => sim.vdis.restartCbt(liveVdi('relog')), { xvda: /xvda: the pool refused to compare .*SR_BACKEND_FAILURE_460.*drops that reference/ })
  })

  it('CBT reset by the pool after a host crash (tracking log inconsistent, CBT turned off): turned on again', async () => {
    await heals('crash', () => sim.vdis.crashResetCbt(liveVdi('crash')), { xvda: /xvda: changed block tracking was found off .*after a host crash.*turned it on again/ })
    expect(sim.db.get('VDI', liveVdi('crash')).cbt_enabled).toBe(true)
  })

  it('the base snapshot VDI destroyed by someone', async () => {
    await heals('gone', () => sim.vdis.destroy(baseOf('gone')), { xvda: /xvda: the reference snapshot .* is gone/ })
  })

  it('list_changed_blocks refusing with a documented error', async () => {
    await heals('refused', () => void (sim.faults.refuseChangedBlocks = { code: 'VDI_MISSING', params: [] }), { xvda: /xvda: the pool refused to compare .*VDI_MISSING/ })
    expect(sim.faults.refuseChangedBlocks).toBeUndefined()
  })

  it('a VHD-delta base (no NBD) data-destroyed by someone, where its data was needed', async () => {
    sim.setNbd(false)
    try {
      sim.vdis.enableCbt(liveVdi('nodata'))
      await heals('nodata', () => sim.vdis.dataDestroy(baseOf('nodata')), { xvda: /xvda: the reference snapshot holds no data any more/ })
    } finally {
      sim.setNbd(true)
    }
  })

  it('two disks broken in different ways: each disk gets its own reason, not the other one’s', async () => {
    await heals(
      'two',
      async () => {
        sim.vdis.restartCbt(liveVdi('two', 0))
        await sim.vdis.destroy(baseOf('two', 1))
      },
      { xvda: /^xvda: the pool refused to compare [^]*incremental again\.$/, xvdb: /^xvdb: the reference snapshot .* is gone[^]*incremental again\.$/ },
    )
  })
})
