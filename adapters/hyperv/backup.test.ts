import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canRunHyperVSim, backupOptions, readAll, simWithAdapter, type SimAndAdapter } from '../../test-hosts/hyperv-sim/testing'
import type { BackupSession } from '../host-adapter'

const MiB = 1024 * 1024

/** The bytes of a disk file on the simulated host, read directly from the simulator's data folder. */
async function hostFile(t: SimAndAdapter, winPath: string): Promise<Buffer> {
  return await readFile(t.sim.host.fs.toLocal(winPath))
}

function fileOf(session: BackupSession, i = 0) {
  const readout = session.disks[i]?.readout
  if (readout?.kind !== 'file') throw new Error('expected a file readout')
  return readout
}

describe.skipIf(!canRunHyperVSim().ok)('Hyper-V backups against the Hyper-V test host', { timeout: 300_000 }, () => {
  let t: SimAndAdapter
  const signal = () => AbortSignal.timeout(60_000)
  beforeAll(async () => {
    t = await simWithAdapter({ vms: ['cold1', 'warm1', 'hot1', "hot 'two' $x", 'hang1', 'fallback1', 'cancel1', 'kill1'] })
  })
  afterAll(async () => {
    await t.close()
  })

  it('offers modes with downtime and consistency, and says why one is missing', async () => {
    const vm = t.vm('cold1')
    expect(await t.adapter.backup.modes(vm.id, signal())).toEqual([
      { mode: 'cold', available: true, downtime: 'shutdown', consistency: 'offline' },
      { mode: 'warm', available: true, downtime: 'pause', consistency: 'crash' },
      { mode: 'hot', available: true, downtime: 'none', consistency: 'app' },
    ])
    vm.checkpointType = 'Disabled'
    vm.state = 'Saved'
    const modes = await t.adapter.backup.modes(vm.id, signal())
    expect(modes.find((m) => m.mode === 'hot')).toMatchObject({ available: false, reason: expect.stringContaining('Checkpoints are disabled') })
    expect(modes.find((m) => m.mode === 'cold')).toMatchObject({ available: false, reason: expect.stringContaining('saved') })
    vm.checkpointType = 'Production'
    vm.state = 'Running'
  })

  it('cold: shuts the guest down cleanly, reads the VHDX, starts the VM again', async () => {
    const vm = t.vm('cold1')
    const options = backupOptions({ mode: 'cold', jobId: randomUUID() })
    const session = await t.adapter.backup.begin(vm.id, options, signal())
    expect(vm.state).toBe('Off')
    expect(session.consistency).toBe('offline')
    const readout = fileOf(session)
    expect(readout.format).toBe('vhdx')
    expect(readout.file.path).toBe(vm.drives[0]?.path)
    expect((await readAll(readout.file)).equals(await hostFile(t, vm.drives[0]?.path ?? ''))).toBe(true)
    expect(session.vmConfig).toMatchObject({ family: 'hyperv', id: vm.id, name: 'cold1', generation: 2, processorCount: 1, memoryStartup: 1024 ** 3, nics: [{ switchName: 'LAN' }] })
    expect(await session.finish(signal())).toEqual({ leftBehind: [] })
    expect(vm.state).toBe('Running')
    expect(t.sim.limits).toEqual([])
  })

  it('cold: a guest that does not shut down in time is left running unless turning it off was chosen', async () => {
    const vm = t.vm('hang1')
    vm.guest.shutdown = 'hang'
    await expect(t.adapter.backup.begin(vm.id, backupOptions({ mode: 'cold', jobId: randomUUID(), shutdownTimeoutMs: 1500 }), signal())).rejects.toMatchObject({ code: 'COMMAND_FAILED', params: { reason: 'shutdown-timeout' } })
    expect(vm.state).toBe('Running')
    const options = backupOptions({ mode: 'cold', jobId: randomUUID(), shutdownTimeoutMs: 1500, forceOffAfterTimeout: true })
    const session = await t.adapter.backup.begin(vm.id, options, signal())
    expect(session.consistency).toBe('crash')
    expect(options.logged.join('\n')).toMatch(/turning it off as chosen/)
    await session.finish(signal())
    expect(vm.state).toBe('Running')
  })

  it('warm: saves the VM, reads, and resumes it', async () => {
    const vm = t.vm('warm1')
    const session = await t.adapter.backup.begin(vm.id, backupOptions({ mode: 'warm', jobId: randomUUID() }), signal())
    expect(vm.state).toBe('Saved')
    expect(session.consistency).toBe('crash')
    expect((await readAll(fileOf(session).file)).equals(await hostFile(t, vm.drives[0]?.path ?? ''))).toBe(true)
    await session.finish(signal())
    expect(vm.state).toBe('Running')
  })

  it('hot: reads the disk the production checkpoint froze while the guest keeps writing, then merges the checkpoint away', async () => {
    const vm = t.vm("hot 'two' $x")
    const base = vm.drives[0]?.path ?? ''
    const before = await hostFile(t, base)
    const session = await t.adapter.backup.begin(vm.id, backupOptions({ mode: 'hot', jobId: randomUUID() }), signal())
    expect(vm.state).toBe('Running')
    expect(session.consistency).toBe('app')
    expect(t.sim.host.checkpointsOf(vm.id)).toHaveLength(1)
    const readout = fileOf(session)
    expect(readout.file.path).toBe(base)
    // The guest goes on writing: into the new AVHDX, not into what is being read.
    await t.sim.host.guestWrite(vm.id, 0, 3 * MiB, Buffer.alloc(MiB, 0xab))
    expect(vm.drives[0]?.path).toMatch(/\.avhdx$/)
    expect((await readAll(readout.file)).equals(before)).toBe(true)
    expect(await session.finish(signal())).toEqual({ leftBehind: [] })
    expect(t.sim.host.checkpointsOf(vm.id)).toEqual([])
    expect(vm.drives[0]?.path).toBe(base)
    expect((await t.sim.host.guestRead(vm.id, 0, 3 * MiB, MiB)).equals(Buffer.alloc(MiB, 0xab))).toBe(true)
    expect(vm.checkpointType).toBe('Production')
  })

  it('hot: the checkpoint chain is read through the parents Hyper-V lists (a VM that already has a checkpoint)', async () => {
    const vm = t.vm('hot1')
    const patch = await t.adapter.snapshots.create(vm.id, { label: 'before patching' }, signal())
    await t.sim.host.guestWrite(vm.id, 0, 0, Buffer.alloc(MiB, 0x11))
    const session = await t.adapter.backup.begin(vm.id, backupOptions({ mode: 'hot', jobId: randomUUID() }), signal())
    const readout = fileOf(session)
    expect(readout.file.path).toMatch(/\.avhdx$/)
    const meta = session.disks[0]?.meta as { chain: string[] }
    expect(meta.chain).toHaveLength(2)
    const parent = await readout.openRelated(`.\\${(meta.chain[1] ?? '').split('\\').pop() ?? ''}`)
    expect(parent.path).toBe(meta.chain[1])
    await parent.close()
    await expect(readout.openRelated('C:\\Windows\\System32\\config\\SAM')).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await session.finish(signal())
    expect(t.sim.host.checkpointsOf(vm.id).map((c) => c.id)).toEqual([patch.id])
    await t.adapter.snapshots.remove(vm.id, patch.id, signal())
  })

  it('hot: a production checkpoint that falls back to a standard one is recorded as crash-consistent', async () => {
    const vm = t.vm('fallback1')
    vm.guest.productionCapable = false
    const options = backupOptions({ mode: 'hot', jobId: randomUUID() })
    const session = await t.adapter.backup.begin(vm.id, options, signal())
    expect(session.consistency).toBe('crash')
    expect(options.logged.join('\n')).toMatch(/standard checkpoint instead.*crash-consistent/)
    await session.finish(signal())
    // ProductionOnly, as a job that insists on application consistency asks: fails, and nothing is left.
    const strict = backupOptions({ mode: 'hot', jobId: randomUUID(), quiesceRequired: true })
    await expect(t.adapter.backup.begin(vm.id, strict, signal())).rejects.toMatchObject({ code: 'COMMAND_FAILED', params: { psCommand: 'Checkpoint-VM' } })
    expect(t.sim.host.checkpointsOf(vm.id)).toEqual([])
    expect(vm.checkpointType).toBe('Production')
    // No quiesce: a standard checkpoint on purpose, the VM's own type put back afterwards.
    const plain = await t.adapter.backup.begin(vm.id, backupOptions({ mode: 'hot', jobId: randomUUID(), quiesce: false }), signal())
    expect(vm.checkpointType).toBe('Standard')
    expect(plain.consistency).toBe('crash')
    await plain.finish(signal())
    expect(vm.checkpointType).toBe('Production')
    expect(t.sim.host.checkpointsOf(vm.id)).toEqual([])
  })

  it('a cancelled backup leaves no checkpoint, even when cancelled while Hyper-V creates it', async () => {
    const vm = t.vm('cancel1')
    t.sim.host.timing.checkpointMs = 1500
    try {
      const ac = new AbortController()
      const begun = t.adapter.backup.begin(vm.id, backupOptions({ mode: 'hot', jobId: randomUUID(), quiesce: false }), ac.signal)
      // Cancel exactly while Hyper-V is creating the checkpoint (the VMMS side goes on regardless).
      while (vm.busy !== 'Creating checkpoint') await new Promise((r) => setTimeout(r, 5))
      ac.abort()
      await expect(begun).rejects.toMatchObject({ code: 'CANCELLED' })
    } finally {
      t.sim.host.timing.checkpointMs = 30
    }
    expect(t.sim.host.checkpointsOf(vm.id)).toEqual([])
    expect(vm.checkpointType).toBe('Production')
    // Cancelled while reading: finish() (which the job always runs) removes it.
    const session = await t.adapter.backup.begin(vm.id, backupOptions({ mode: 'hot', jobId: randomUUID() }), signal())
    const ac = new AbortController()
    const reading = (async () => {
      for await (const _ of fileOf(session).file.stream(0, fileOf(session).file.size, ac.signal)) ac.abort()
    })()
    await expect(reading).rejects.toMatchObject({ code: 'CANCELLED' })
    await session.finish(signal())
    expect(t.sim.host.checkpointsOf(vm.id)).toEqual([])
  })

  it('a killed Lifeboat leaves a checkpoint that the next connection finds and cleans; a running job\'s is left alone', async () => {
    const vm = t.vm('kill1')
    const jobId = randomUUID()
    const doomed = t.newAdapter()
    await doomed.backup.begin(vm.id, backupOptions({ mode: 'hot', jobId, quiesce: false }), signal())
    expect(t.sim.host.checkpointsOf(vm.id)).toHaveLength(1)
    const other = t.newAdapter()
    // While the job's connection lives, its checkpoint is another job's business.
    const live = await other.reconcile.find(signal())
    expect(live).toEqual([expect.objectContaining({ kind: 'snapshot', vmId: vm.id, jobId, safeToClean: false })])
    expect((await other.reconcile.clean([live[0]?.id ?? ''], signal())).failed).toHaveLength(1)
    // Lifeboat dies: the connection (and with it the job's lock) goes away without finish().
    await doomed.close()
    await new Promise((r) => setTimeout(r, 200))
    const found = await other.reconcile.find(signal())
    expect(found).toEqual([expect.objectContaining({ kind: 'snapshot', vmId: vm.id, vmName: 'kill1', jobId, safeToClean: true, description: expect.stringContaining('sets the VM\'s checkpoint type back to Production') })])
    expect(vm.checkpointType).toBe('Standard')
    expect(await other.reconcile.clean(found.map((f) => f.id), signal())).toEqual({ cleaned: [found[0]?.id], failed: [] })
    expect(t.sim.host.checkpointsOf(vm.id)).toEqual([])
    expect(vm.checkpointType).toBe('Production')
    // "Before patching" checkpoints are the admin's: never leftovers.
    await other.snapshots.create(vm.id, { label: 'keep me' }, signal())
    expect(await other.reconcile.find(signal())).toEqual([])
    expect(t.sim.limits).toEqual([])
  })
})
