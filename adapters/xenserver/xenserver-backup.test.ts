import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { XapiSim } from '../../test-hosts/xapi-sim/sim'
import type { BackupSession, JsonValue, Vm } from '../host-adapter'
import { CBT_BLOCK } from './incremental'
import { STALE_MS, XapiReconcile } from './reconcile'
import { XapiClient } from './xapi-client'
import type { XenServerAdapter } from './xenserver-adapter'
import { adapterFor, backupOptions, MiB, readAll, signal, startSim } from './testing/sim-fixture'

const SIZE = 8 * MiB

describe('XenServer backups against the XAPI simulator', () => {
  let sim: XapiSim
  let a: XenServerAdapter
  const vms = new Map<string, Vm>()
  const names = ['hot', 'cbt', 'warm', 'warm-fallback', 'cold', 'cold-stuck', 'delta', 'broken', 'kill', 'drop', 'crash', 'failing', 'halted', 'attach-fails']

  beforeAll(async () => {
    sim = await startSim({ vms: names.map((name) => ({ name, diskSize: SIZE, ...(name === 'halted' ? { powerState: 'Halted' as const } : {}), ...(name === 'warm' ? { disks: 2 } : {}) })) })
    a = adapterFor(sim)
    for (const vm of (await a.inventory(signal())).vms) vms.set(vm.name, vm)
  })
  afterAll(async () => {
    await a.close()
    await sim.stop()
  })

  const id = (name: string) => vms.get(name)?.id ?? ''
  const disk = (name: string, i = 0) => readFileSync(sim.disksOf(name)[i]?.path ?? '')
  const power = (name: string) => String(sim.vmByName(name).record.power_state)
  const snapshotsOf = (name: string) => sim.db.all('VM').filter(([, r]) => r.is_a_snapshot === true && r.snapshot_of === sim.vmByName(name).ref)
  const lifeboat = (vmUuid: string) => sim.lifeboatObjects().filter((o) => o.other['lifeboat:vm'] === vmUuid)

  it('offers cold, warm and hot for a running VM, and says why warm is impossible for a halted one', async () => {
    expect((await a.backup.modes(id('hot'), signal())).map((m) => [m.mode, m.available, m.downtime, m.consistency])).toEqual([
      ['cold', true, 'shutdown', 'offline'],
      ['warm', true, 'pause', 'crash'],
      ['hot', true, 'none', 'crash'],
    ])
    const halted = await a.backup.modes(id('halted'), signal())
    expect(halted.find((m) => m.mode === 'warm')).toMatchObject({ available: false, reason: expect.stringContaining('not running') })
    expect(halted.find((m) => m.mode === 'hot')).toMatchObject({ available: true, consistency: 'offline' })
  })

  it('hot: VM.snapshot → export through /export_raw_vdi → snapshot VM and VDIs destroyed, CBT reference kept', async () => {
    const options = backupOptions({ mode: 'hot', quiesce: true })
    const session = await a.backup.begin(id('hot'), options, signal())
    expect(session.consistency).toBe('crash')
    expect(session.disks.map((d) => [d.name, d.sizeBytes, d.readout.kind, d.readout.kind === 'guest' ? d.readout.changedRanges : 'n/a'])).toEqual([['xvda', SIZE, 'guest', undefined]])
    expect(snapshotsOf('hot')).toHaveLength(1)
    const data = await readAll(session)
    expect(data.get('xvda')?.equals(disk('hot'))).toBe(true)
    expect(options.logs.join('\n')).toContain('VM.snapshot_with_quiesce was removed')
    expect(options.logs.join('\n')).toContain('Turned on changed block tracking')
    const { leftBehind } = await session.finish(signal(), { committed: true })
    expect(leftBehind).toEqual([])
    expect(snapshotsOf('hot')).toHaveLength(0)
    expect(power('hot')).toBe('Running')
    const kept = lifeboat(id('hot'))
    expect(kept).toEqual([expect.objectContaining({ cls: 'VDI', type: 'cbt_metadata', other: expect.objectContaining({ 'lifeboat:purpose': 'cbt-base' }) })])
    expect(session.incrementalToken).toMatchObject({ kind: 'xapi', disks: [{ strategy: 'cbt', size: SIZE }] })
    const vmConfig = session.vmConfig as { kind: string; vm: { name_label: string }; vifs: unknown[] }
    expect(vmConfig).toMatchObject({ kind: 'xapi', vm: { name_label: 'hot' } })
    expect(vmConfig.vifs).toHaveLength(1)
  })

  it('an export the pool fails after its 200 header (an HTTP 500 inside the body) reports the storage error, not a short disk', async () => {
    sim.faults.failTransfer = { path: '/export_raw_vdi', code: 'SR_BACKEND_FAILURE_46', params: ['', 'The VDI is not available [opterr=VDI not detached cleanly]', ''] }
    const session = await a.backup.begin(id('attach-fails'), backupOptions({ incremental: false }), signal())
    try {
      const err = await readAll(session).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'COMMAND_FAILED', params: { xapiCode: 'SR_BACKEND_FAILURE_46' } })
      expect(String(err)).toContain('The VDI is not available')
    } finally {
      sim.faults.failTransfer = undefined
      await session.finish(signal(), { committed: false })
    }
    expect(lifeboat(id('attach-fails'))).toEqual([])
  })

  it('CBT incremental: list_changed_blocks → only the changed 64 KiB blocks are read over NBD; the old reference becomes metadata only', async () => {
    const first = await a.backup.begin(id('cbt'), backupOptions(), signal())
    const full = await readAll(first)
    await first.finish(signal(), { committed: true })
    const firstBase = lifeboat(id('cbt'))
    expect(firstBase).toHaveLength(1)

    await sim.writeGuest('cbt', 0, 5 * CBT_BLOCK + 100, Buffer.alloc(200, 0xaa))
    await sim.writeGuest('cbt', 0, 100 * CBT_BLOCK - 10, Buffer.alloc(20, 0xbb))
    sim.stats.nbdReads.clear()
    const options = backupOptions({ previous: { pointId: 'p1', token: first.incrementalToken as JsonValue } })
    const second = await a.backup.begin(id('cbt'), options, signal())
    expect(second.fullReason).toBeUndefined()
    const readout = second.disks[0]?.readout
    expect(readout?.kind).toBe('guest')
    expect(readout?.kind === 'guest' ? readout.changedRanges : undefined).toEqual([
      { offset: 5 * CBT_BLOCK, length: CBT_BLOCK },
      { offset: 99 * CBT_BLOCK, length: 2 * CBT_BLOCK },
    ])
    const data = await readAll(second, full)
    expect(data.get('xvda')?.equals(disk('cbt'))).toBe(true)
    const reads = [...sim.stats.nbdReads.values()].flat()
    expect(reads.reduce((s, r) => s + r.length, 0)).toBe(3 * CBT_BLOCK)
    expect(reads.every((r) => r.offset % CBT_BLOCK === 0)).toBe(true)
    await second.finish(signal(), { committed: true })
    const bases = lifeboat(id('cbt'))
    expect(bases).toHaveLength(1)
    expect(bases[0]?.ref).not.toBe(firstBase[0]?.ref)
    expect(bases[0]?.type).toBe('cbt_metadata')
  })

  it('warm: VM.checkpoint (memory and disks); the checkpoint and its memory image are destroyed afterwards', async () => {
    const vdisBefore = sim.db.all('VDI').length
    const session = await a.backup.begin(id('warm'), backupOptions({ mode: 'warm', incremental: false }), signal())
    expect(snapshotsOf('warm').map(([, r]) => r.power_state)).toEqual(['Suspended'])
    const data = await readAll(session)
    expect(data.get('xvda')?.equals(disk('warm', 0))).toBe(true)
    expect(data.get('xvdb')?.equals(disk('warm', 1))).toBe(true)
    expect(power('warm')).toBe('Running')
    expect((await session.finish(signal(), { committed: true })).leftBehind).toEqual([])
    expect(snapshotsOf('warm')).toHaveLength(0)
    expect(sim.db.all('VDI').length).toBe(vdisBefore)
    expect(lifeboat(id('warm'))).toEqual([])
  })

  it('warm where the pool refuses the checkpoint: suspend → export → resume', async () => {
    sim.faults.checkpointFails = true
    try {
      const options = backupOptions({ mode: 'warm' })
      const session = await a.backup.begin(id('warm-fallback'), options, signal())
      expect(options.logs.join('\n')).toContain('suspending it for the backup instead')
      expect(power('warm-fallback')).toBe('Suspended')
      expect((await readAll(session)).get('xvda')?.equals(disk('warm-fallback'))).toBe(true)
      expect((await session.finish(signal(), { committed: true })).leftBehind).toEqual([])
      expect(power('warm-fallback')).toBe('Running')
    } finally {
      sim.faults.checkpointFails = false
    }
  })

  it('cold: clean shutdown → export → started again; consistency offline', async () => {
    const session = await a.backup.begin(id('cold'), backupOptions({ mode: 'cold' }), signal())
    expect(session.consistency).toBe('offline')
    expect(power('cold')).toBe('Halted')
    expect((await readAll(session)).get('xvda')?.equals(disk('cold'))).toBe(true)
    expect((await session.finish(signal(), { committed: true })).leftBehind).toEqual([])
    expect(power('cold')).toBe('Running')
  })

  it('cold: a guest that ignores the shutdown is forced off only when that was chosen; the shutdown task is cancelled on the pool', async () => {
    sim.faults.ignoreShutdown.add('cold-stuck')
    try {
      const refused = await a.backup.begin(id('cold-stuck'), backupOptions({ mode: 'cold', shutdownTimeoutMs: 300 }), signal()).catch((e: unknown) => e)
      expect(refused).toMatchObject({ code: 'COMMAND_FAILED', message: expect.stringContaining('did not shut down within') })
      expect(power('cold-stuck')).toBe('Running')
      expect(sim.db.all('task').filter(([, t]) => t.status === 'pending')).toEqual([])
      const options = backupOptions({ mode: 'cold', shutdownTimeoutMs: 300, forceOffAfterTimeout: true })
      const session = await a.backup.begin(id('cold-stuck'), options, signal())
      expect(options.logs.join('\n')).toContain('forcing it off as chosen')
      await readAll(session)
      await session.finish(signal(), { committed: false })
      expect(power('cold-stuck')).toBe('Running')
      expect(lifeboat(id('cold-stuck'))).toEqual([])
    } finally {
      sim.faults.ignoreShutdown.delete('cold-stuck')
    }
  })

  it('without NBD on the pool: a full snapshot is kept and the next backup reads a VHD delta (base=)', async () => {
    sim.setNbd(false)
    try {
      const first = await a.backup.begin(id('delta'), backupOptions(), signal())
      const full = await readAll(first)
      await first.finish(signal(), { committed: true })
      expect(lifeboat(id('delta'))).toEqual([expect.objectContaining({ cls: 'VDI', type: 'user', other: expect.objectContaining({ 'lifeboat:purpose': 'delta-base' }) })])
      await sim.writeGuest('delta', 0, 3 * MiB + 7, Buffer.alloc(3, 0x11))
      const second = await a.backup.begin(id('delta'), backupOptions({ previous: { pointId: 'p', token: first.incrementalToken as JsonValue } }), signal())
      const readout = second.disks[0]?.readout
      expect(readout?.kind === 'guest' ? readout.changedRanges : undefined).toEqual([{ offset: 2 * MiB, length: 2 * MiB }])
      expect((await readAll(second, full)).get('xvda')?.equals(disk('delta'))).toBe(true)
      await second.finish(signal(), { committed: true })
      expect(lifeboat(id('delta'))).toHaveLength(1)
    } finally {
      sim.setNbd(true)
    }
  })

  it('a broken chain (reference deleted, CBT switched off) falls back to a full read and says why', async () => {
    const first = await a.backup.begin(id('broken'), backupOptions(), signal())
    await readAll(first)
    await first.finish(signal(), { committed: true })
    const token = first.incrementalToken as JsonValue
    const [base] = lifeboat(id('broken'))
    await sim.vdis.destroy(base?.ref ?? '')
    const second = await a.backup.begin(id('broken'), backupOptions({ previous: { pointId: 'p', token } }), signal())
    expect(second.fullReason).toBeUndefined()
    expect(second.disks[0]?.fullReason).toContain('is gone')
    const readout = second.disks[0]?.readout
    expect(readout?.kind === 'guest' ? readout.changedRanges : 'not a guest readout').toBeUndefined()
    await readAll(second)
    await second.finish(signal(), { committed: true })
    sim.vdis.disableCbt(sim.disksOf('broken')[0]?.vdi ?? '')
    const third = await a.backup.begin(id('broken'), backupOptions({ previous: { pointId: 'p2', token: second.incrementalToken as JsonValue } }), signal())
    expect(third.disks[0]?.fullReason).toContain('changed block tracking was found off')
    await third.finish(signal(), { committed: false })
  })

  it('a backup cancelled in the middle of the export leaves no Lifeboat snapshot or VDI on the pool', async () => {
    sim.faults.transferBytesPerSecond = 2 * MiB
    const controller = new AbortController()
    let session: BackupSession | undefined
    try {
      session = await a.backup.begin(id('kill'), backupOptions(), controller.signal)
      const readout = session.disks[0]?.readout
      if (readout?.kind !== 'guest') throw new Error('expected a guest readout')
      let got = 0
      const err = await (async () => {
        for (let at = 0; at < readout.disk.size; at += MiB) {
          await readout.disk.read(at, MiB, controller.signal)
          got += MiB
          if (got >= MiB) controller.abort()
        }
      })().catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'CANCELLED' })
      expect(got).toBeLessThan(SIZE)
    } finally {
      sim.faults.transferBytesPerSecond = undefined
      await session?.finish(signal(), { committed: false })
    }
    expect(snapshotsOf('kill')).toHaveLength(0)
    expect(sim.lifeboatObjects().filter((o) => o.other['lifeboat:job'] === 'job-test' && o.other['lifeboat:vm'] === id('kill'))).toEqual([])
    expect(lifeboat(id('kill'))).toEqual([])
    expect(sim.db.all('task').filter(([, t]) => t.status === 'pending')).toEqual([])
  })

  it('a connection dropped mid-export fails the read loudly, and cleanup still removes everything', async () => {
    const session = await a.backup.begin(id('drop'), backupOptions(), signal())
    sim.faults.dropTransferAfterBytes = 3 * MiB
    const err = await readAll(session).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'CONNECTION_LOST' })
    expect((await session.finish(signal(), { committed: false })).leftBehind).toEqual([])
    expect(lifeboat(id('drop'))).toEqual([])
  })

  it('a failing XAPI task fails the backup with its XAPI code and removes the marker it set', async () => {
    sim.faults.failTask.set('VM.snapshot', { code: 'SR_BACKEND_FAILURE_44', params: ['', 'There is insufficient space', ''] })
    const err = await a.backup.begin(id('failing'), backupOptions(), signal()).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'COMMAND_FAILED', params: { xapiCode: 'SR_BACKEND_FAILURE_44' } })
    expect(sim.lifeboatObjects().filter((o) => o.name === 'failing' || o.other['lifeboat:vm'] === id('failing'))).toEqual([])
  })

  it('after a crash (finish never ran) the tagged snapshot is found; once its heartbeat is stale it is cleaned', async () => {
    // begin() without finish(): what a killed Lifeboat leaves.
    await a.backup.begin(id('crash'), backupOptions({ jobId: 'crashed-job' }), signal())
    const now = { t: Date.now() }
    const client = await XapiClient.open({ host: '127.0.0.1', port: sim.port, user: 'root', password: sim.password, pinnedFingerprint: sim.fingerprint, timeoutMs: 5000 }, signal())
    const reconcile = new XapiReconcile(() => Promise.resolve(client), () => now.t)
    const fresh = await reconcile.find(signal())
    const mine = fresh.filter((l) => l.jobId === 'crashed-job')
    expect(mine.length).toBeGreaterThan(0)
    expect(mine.every((l) => !l.safeToClean)).toBe(true)
    now.t += STALE_MS + 60_000
    const stale = (await reconcile.find(signal())).filter((l) => l.jobId === 'crashed-job')
    expect(stale.every((l) => l.safeToClean)).toBe(true)
    const result = await reconcile.clean(stale.map((l) => l.id), signal())
    expect(result.failed).toEqual([])
    expect(snapshotsOf('crash')).toHaveLength(0)
    expect(lifeboat(id('crash'))).toEqual([])
    await client.close()
  })
})
