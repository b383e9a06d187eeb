/**
 * The pieces of a XenServer health check that the engine test cannot reach in seconds: the heartbeat that keeps a
 * running check's VM from looking abandoned (it beats only the VM of its own job), and the removal that takes the VM
 * with its marked disks but leaves a disk someone else attached to it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { XapiSim } from '../../test-hosts/xapi-sim/sim'
import { beatCheckVm, checkVmName, removeCheckVm } from './check-vm'
import { findLeftovers } from './reconcile'
import { healthCheckMarks, TAG } from './tags'
import { XapiClient } from './xapi-client'
import { loadState } from './live-inventory'
import { signal } from './testing/sim-fixture'

const JOB = '0b6f2c44-8a51-4c2e-9d7e-6f1b2a3c4d5e'
const OTHER = '1c7a3d55-9b62-4d3f-8e8f-7a2c3b4d5e6f'
const ELEVEN_MINUTES_AGO = new Date(Date.now() - 11 * 60_000)

describe('XenServer health check VMs: heartbeat and removal', () => {
  let sim: XapiSim
  let client: XapiClient

  beforeAll(async () => {
    sim = await XapiSim.start()
    client = await XapiClient.open({ host: '127.0.0.1', port: sim.port, user: 'root', password: sim.password, pinnedFingerprint: sim.fingerprint, timeoutMs: 5000 }, signal())
  })
  afterAll(async () => {
    await client.close()
    await sim.stop()
  })

  const checkVm = (job: string, name = checkVmName(job)) => sim.vms.create({ name_label: name, other_config: healthCheckMarks(job, ELEVEN_MINUTES_AGO) })
  const leftovers = async () => findLeftovers((await loadState(client, signal())).state, Date.now()).filter((l) => l.id.startsWith('check-'))

  it('the heartbeat refreshes only its own job\'s VM: the leftovers check then leaves that one alone', async () => {
    const mine = checkVm(JOB)
    // Same name, another job's mark: not this check's to beat.
    const impostor = checkVm(OTHER, checkVmName(JOB))
    expect((await leftovers()).map((l) => l.safeToClean)).toEqual([true, true])
    await beatCheckVm(client, JOB, signal())
    const beat = (ref: string) => (sim.db.get('VM', ref).other_config as Record<string, string>)[TAG.heartbeat] ?? ''
    expect(Date.parse(beat(mine))).toBeGreaterThan(Date.now() - 60_000)
    expect(beat(impostor)).toBe(ELEVEN_MINUTES_AGO.toISOString())
    const found = await leftovers()
    expect(found.map((l) => [l.kind, l.jobId, l.safeToClean])).toEqual([
      ['vm', JOB, false],
      ['vm', OTHER, true],
    ])
    await removeCheckVm(client, mine, signal())
    await removeCheckVm(client, impostor, signal())
    expect(await leftovers()).toEqual([])
  })

  it('removal takes the VM and its marked disks, leaves a disk without the mark, and reports what it could not remove', async () => {
    const vm = checkVm(JOB)
    const sr = sim.db.get('pool', sim.core.poolRef).default_SR as string
    const marked = await sim.vdis.create({ SR: sr, virtual_size: 1024 * 1024, name_label: 'check disk', other_config: healthCheckMarks(JOB) })
    const foreign = await sim.vdis.create({ SR: sr, virtual_size: 1024 * 1024, name_label: 'someone else\'s disk' })
    sim.vms.createVbd({ VM: vm, VDI: marked, userdevice: '0', bootable: true, mode: 'RW', type: 'Disk' })
    sim.vms.createVbd({ VM: vm, VDI: foreign, userdevice: '1', bootable: false, mode: 'RW', type: 'Disk' })
    await sim.vms.start(vm)
    expect(await removeCheckVm(client, vm, signal())).toBeUndefined()
    expect(sim.db.has('VM', vm)).toBe(false)
    expect(sim.db.has('VDI', marked)).toBe(false)
    expect(sim.db.has('VDI', foreign)).toBe(true)
    // A VM whose mark someone removed is not the check's any more: left alone, and said so.
    const unmarked = checkVm(JOB)
    sim.db.set('VM', unmarked, { other_config: {} })
    expect(await removeCheckVm(client, unmarked, signal())).toMatch(/is not a health check's VM any more/)
    expect(sim.db.has('VM', unmarked)).toBe(true)
  })
})
