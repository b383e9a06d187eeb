import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { XapiSim } from '../../e2e/hosts/xapi-sim/sim'
import type { BackupMode, BackupSession, GuestDisk, RestoreRequest } from '../host-adapter'
import type { XenServerAdapter } from './xenserver-adapter'
import { adapterFor, backupOptions, MiB, signal, startSim } from './testing/sim-fixture'
import { walkSteps, type Flow } from './testing/step-walk'

/**
 * Issue 12: a failure or cancel after any step of a flow leaves nothing on the pool. Each test walks every host call
 * of a flow (counted on a clean run): call N fails with an XAPI error, then separately the job is cancelled right
 * after call N; after each run the pool must be exactly as it was (no snapshot, VDI, VBD, VIF, tag or running task
 * more, CBT as it was, every VM in its power state).
 */
describe('XenServer flows undo every step on failure or cancel', () => {
  let sim: XapiSim
  let a: XenServerAdapter
  const ids = new Map<string, string>()

  beforeAll(async () => {
    sim = await startSim({ diskSize: MiB, vms: ['hot', 'warm', 'fallback', 'cold', 'patch', { name: 'stopped', powerState: 'Halted' }] })
    a = adapterFor(sim)
    for (const vm of (await a.inventory(signal())).vms) ids.set(vm.name, vm.id)
  })
  afterAll(async () => {
    await a.close()
    await sim.stop()
  })

  const backup =
    (name: string, mode: BackupMode): Flow =>
    async (s, mark) => {
      let session: BackupSession | undefined
      try {
        session = await a.backup.begin(ids.get(name) ?? '', backupOptions({ mode, shutdownTimeoutMs: 5000 }), s)
        for (const d of session.disks) {
          if (d.readout.kind !== 'guest') throw new Error('expected a guest readout')
          await d.readout.disk.read(0, d.readout.disk.size, s)
        }
        mark()
      } finally {
        // What the engine does after a failure or cancel: no restore point, so nothing is kept.
        await session?.finish(signal(), { committed: false })
      }
    }

  const report = (what: string, r: { steps: number; failures: number; cancels: number }, started: number) => {
    console.log(`${what}: ${r.steps} steps, ${r.failures} failed and ${r.cancels} cancelled runs, ${Date.now() - started} ms`)
    expect(r.failures).toBeGreaterThan(0)
    expect(r.cancels).toBeGreaterThan(0)
  }

  for (const [name, mode] of [
    ['hot', 'hot'],
    ['warm', 'warm'],
    ['cold', 'cold'],
  ] as const) {
    it(`${mode} backup (${name})`, async () => {
      const started = Date.now()
      report(`${mode} backup`, await walkSteps(sim, backup(name, mode)), started)
      expect(String(sim.vmByName(name).record.power_state)).toBe('Running')
    })
  }

  it('warm backup where the pool refuses the checkpoint (suspend → export → resume)', async () => {
    sim.faults.checkpointFails = true
    try {
      const started = Date.now()
      report('warm backup by suspend', await walkSteps(sim, backup('fallback', 'warm')), started)
    } finally {
      sim.faults.checkpointFails = false
    }
  })

  it('snapshot before patching', async () => {
    const started = Date.now()
    const flow: Flow = async (s, mark) => {
      const made = await a.snapshots.create(ids.get('patch') ?? '', { label: 'walk' }, s)
      mark()
      // The admin discards it afterwards: the walk covers creating it.
      await a.snapshots.remove(ids.get('patch') ?? '', made.id, signal())
    }
    report('snapshot before patching', await walkSteps(sim, flow), started)
  })

  it('restore as a new VM (started): a failed restore removes the VM and VDIs it created, and nothing else', async () => {
    const data = Buffer.alloc(MiB, 0x5a)
    const disk: GuestDisk = { size: MiB, label: 'xvda', read: (o, l) => Promise.resolve(Buffer.from(data.subarray(o, o + l))), close: () => Promise.resolve() }
    const request = (): RestoreRequest => ({ name: 'restored', inPlace: false, start: true, vmConfig: null, disks: [{ name: 'xvda', size: MiB, source: disk }], log: () => undefined, phase: () => undefined, progress: () => undefined })
    const started = Date.now()
    const flow: Flow = async (s, mark) => {
      const result = await a.restore.restoreVm(request(), s)
      mark()
      // Removing the restored VM afterwards (by hand, as an admin would) returns the pool to where it was.
      const ref = sim.db.byUuid('VM', result.vmId)
      await sim.vms.destroy(ref, true)
      for (const [vdi, r] of sim.db.all('VDI')) if ((r.other_config as Record<string, string>)['lifeboat:restored-from'] !== undefined) await sim.vdis.destroy(vdi)
    }
    report('restore as a new VM', await walkSteps(sim, flow), started)
  })

  it('restore one disk to a stopped VM: a failed restore removes the VDI and VBD it created', async () => {
    const data = Buffer.alloc(MiB, 0x7e)
    const disk: GuestDisk = { size: MiB, label: 'xvdb', read: (o, l) => Promise.resolve(Buffer.from(data.subarray(o, o + l))), close: () => Promise.resolve() }
    const started = Date.now()
    const flow: Flow = async (s, mark) => {
      const result = await a.restore.restoreDisk({ vm: ids.get('stopped') ?? '', disk: { name: 'xvdb', size: MiB, source: disk }, log: () => undefined, phase: () => undefined, progress: () => undefined }, s)
      mark()
      // Detaching and deleting it afterwards (by hand, as an admin would) returns the pool to where it was.
      await sim.vdis.destroy(sim.db.byUuid('VDI', result.disk.path.split('/').pop() ?? ''))
    }
    report('restore one disk', await walkSteps(sim, flow), started)
  })
})
