import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { XapiSim } from '../../test-hosts/xapi-sim/sim'
import type { ChannelName, Channels, InputOf, OutputOf } from '../api/contract'
import type { JobDetailDto } from '../api/contract-jobs'
import { call } from '../cli/cli-call'
import { createEngine, type Engine } from '../engine'
import { pointDiskBytes } from './testing/point-bytes'

const MiB = 1024 * 1024
const BLOCK = 64 * 1024
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

// The XenServer adapter through the one backup/restore/snapshot pipeline (channels → jobs → repository), against
// the XAPI simulator: what the CLI and the UI do.
describe('XenServer pools through the engine (backup, incremental, restore, snapshots, cancel)', () => {
  let sim: XapiSim
  let engine: Engine
  let home: string

  const run = <K extends ChannelName>(channel: K, input: InputOf<Channels[K]>): Promise<OutputOf<Channels[K]>> => call(engine.handlers, channel, input, AbortSignal.timeout(120_000))
  const job = async (jobId: string): Promise<JobDetailDto> => {
    for (let i = 0; i < 1200; i++) {
      const j = await engine.jobs.get(jobId)
      if (j.state === 'succeeded' || j.state === 'failed' || j.state === 'cancelled') return j
      await sleep(50)
    }
    throw new Error(`job ${jobId} did not end`)
  }
  const pointBytes = (pointId: string, disk: string): Promise<Buffer> => pointDiskBytes(engine, pointId, disk)
  const diskFile = (vm: string) => readFile(sim.disksOf(vm)[0]?.path ?? '')

  beforeAll(async () => {
    sim = await XapiSim.start({ vms: [{ name: 'web', diskSize: 16 * MiB }, { name: 'db', diskSize: 16 * MiB, content: 'mixed' }, { name: 'big', diskSize: 64 * MiB }] })
    home = await mkdtemp(path.join(tmpdir(), 'lb-xen-home-'))
    engine = await createEngine({ home, door: 'cli' })
    const unknown = await run('hosts.add', { kind: 'xenserver', name: 'pool1', address: `127.0.0.1:${sim.port}`, user: 'root', auth: { type: 'password', password: sim.password } }).catch((e: unknown) => e)
    expect(unknown).toMatchObject({ code: 'HOST_KEY_UNKNOWN', params: { fingerprint: sim.fingerprint } })
    await run('hosts.add', { kind: 'xenserver', name: 'pool1', address: `127.0.0.1:${sim.port}`, user: 'root', auth: { type: 'password', password: sim.password }, acceptFingerprint: sim.fingerprint })
  })
  afterAll(async () => {
    await engine.dispose()
    await rm(home, { recursive: true, force: true })
    await sim.stop()
  })

  it('hot, then CBT-incremental: the second point reads only the changed 64 KiB blocks from the pool', async () => {
    const first = await job((await run('backup.start', { host: 'pool1', vm: 'web', mode: 'hot' })).jobId)
    expect(first.state).toBe('succeeded')
    const p1 = (first.result as { id: string }).id
    expect((await pointBytes(p1, 'xvda')).equals(await diskFile('web'))).toBe(true)

    await sim.writeGuest('web', 0, 3 * BLOCK + 5, Buffer.alloc(10, 0xab))
    await sim.writeGuest('web', 0, 9 * MiB, Buffer.alloc(BLOCK + 1, 0xcd))
    sim.stats.nbdReads.clear()
    const second = await job((await run('backup.start', { host: 'pool1', vm: 'web', mode: 'hot' })).jobId)
    expect(second.state).toBe('succeeded')
    const p2 = second.result as { id: string; parentId: string | null }
    expect(p2.parentId).toBe(p1)
    expect((await pointBytes(p2.id, 'xvda')).equals(await diskFile('web'))).toBe(true)
    const read = [...sim.stats.nbdReads.values()].flat().reduce((s, r) => s + r.length, 0)
    expect(read).toBe(3 * BLOCK)
    expect(sim.lifeboatObjects().map((o) => o.other['lifeboat:purpose'])).toEqual(['cbt-base'])
  })

  it('cold and warm backups through the wizard channels, with the modes the pool allows', async () => {
    const modes = await run('backup.modes', { host: 'pool1', vm: 'db' })
    expect(modes.map((m) => [m.mode, m.available])).toEqual([
      ['cold', true],
      ['warm', true],
      ['hot', true],
    ])
    for (const mode of ['cold', 'warm'] as const) {
      const done = await job((await run('backup.start', { host: 'pool1', vm: 'db', mode, incremental: false })).jobId)
      expect(done.state).toBe('succeeded')
      expect((await pointBytes((done.result as { id: string }).id, 'xvda')).equals(await diskFile('db'))).toBe(true)
      expect(sim.vmByName('db').record.power_state).toBe('Running')
    }
  })

  it('quiesce required on a running VM: refused before anything is made, because XAPI no longer quiesces', async () => {
    const before = (await run('points.list', { vm: 'db' })).length
    const done = await job((await run('backup.start', { host: 'pool1', vm: 'db', mode: 'hot', requireQuiesce: true })).jobId)
    expect(done.state).toBe('failed')
    expect(done.error?.message).toMatch(/cannot be backed up application-consistent while it runs.*Nothing was changed/)
    expect(done.leftBehind).toEqual([])
    expect((await run('points.list', { vm: 'db' })).length).toBe(before)
    const db = sim.vmByName('db')
    expect(sim.db.all('VM').filter(([, r]) => r.snapshot_of === db.ref)).toEqual([])
  })

  it('restores a restore point as a new VM with new MAC addresses, started', async () => {
    const points = await run('points.list', { vm: 'web' })
    const latest = points[0]
    if (latest === undefined) throw new Error('no point')
    const done = await job((await run('restore.start', { point: latest.id, toHost: 'pool1', as: 'web-restored', start: true })).jobId)
    expect(done.state).toBe('succeeded')
    const restored = sim.vmByName('web-restored')
    expect(restored.record.power_state).toBe('Running')
    expect((await readFile(sim.disksOf('web-restored')[0]?.path ?? '')).equals(await pointBytes(latest.id, 'xvda'))).toBe(true)
    const macs = (vm: { record: Record<string, unknown> }) => (vm.record.VIFs as string[]).map((v) => sim.db.get('VIF', v).MAC)
    expect(macs(restored)).toHaveLength(1)
    expect(macs(restored)).not.toEqual(macs(sim.vmByName('web')))
  })

  it('without NBD on the pool the incremental is a VHD delta against the kept snapshot (base=), completed from the previous point', async () => {
    sim.setNbd(false)
    try {
      const first = await job((await run('backup.start', { host: 'pool1', vm: 'db', mode: 'hot' })).jobId)
      expect(first.state).toBe('succeeded')
      await sim.writeGuest('db', 0, 5 * MiB + 3, Buffer.alloc(7, 9))
      const exported = sim.stats.exportBytes
      const second = await job((await run('backup.start', { host: 'pool1', vm: 'db', mode: 'hot' })).jobId)
      expect(second.state).toBe('succeeded')
      expect(second.log.map((l) => l.message).join('\n')).toContain('VHD delta')
      expect(sim.stats.exportBytes - exported).toBeLessThan(3 * MiB)
      expect((await pointBytes((second.result as { id: string }).id, 'xvda')).equals(await diskFile('db'))).toBe(true)
    } finally {
      sim.setNbd(true)
    }
  })

  it('snapshot before patching, revert and discard through the snapshot channels', async () => {
    const snap = await run('snapshots.create', { host: 'pool1', vm: 'db', label: 'before patching' })
    expect(snap).toMatchObject({ lifeboat: true, purpose: 'before-patching' })
    const before = await diskFile('db')
    await sim.writeGuest('db', 0, 0, Buffer.alloc(4096, 1))
    await run('snapshots.revert', { host: 'pool1', vm: 'db', snapshot: snap.id, confirm: true })
    expect((await diskFile('db')).equals(before)).toBe(true)
    expect(sim.vmByName('db').record.power_state).toBe('Running')
    await run('snapshots.remove', { host: 'pool1', vm: 'db', snapshot: snap.id })
    expect(await run('snapshots.list', { host: 'pool1', vm: 'db' })).toEqual([])
  })

  it('XVA export to a file and import as a new VM; one disk of a restore point attached to an existing VM', async () => {
    const file = path.join(home, 'web.xva')
    const exported = await job((await run('archive.export', { host: 'pool1', vm: 'web', file })).jobId)
    expect(exported.state).toBe('succeeded')
    expect((exported.result as { bytes: number }).bytes).toBeGreaterThan(16 * MiB)
    const imported = await job((await run('archive.import', { host: 'pool1', file })).jobId)
    expect(imported.state).toBe('succeeded')
    const vmId = (imported.result as { vmId: string }).vmId
    const copies = sim.db.all('VM').filter(([, r]) => r.uuid === vmId)
    expect(copies.map(([, r]) => r.name_label)).toEqual(['web'])
    sim.db.set('VM', copies[0]?.[0] ?? '', { name_label: 'web (from XVA)' })

    const point = (await run('points.list', { vm: 'web' }))[0]
    if (point === undefined) throw new Error('no point')
    const attached = await job((await run('restore.disk', { point: point.id, disk: 'xvda', toHost: 'pool1', vm: 'db' })).jobId)
    expect(attached.state).toBe('succeeded')
    expect(attached.result).toMatchObject({ plugged: true })
    const disks = sim.disksOf('db')
    expect(disks).toHaveLength(2)
    expect((await readFile(disks[1]?.path ?? '')).equals(await pointBytes(point.id, 'xvda'))).toBe(true)
  })

  it('the tree follows the pool live (event.from), not only at the next poll', async () => {
    const seen: string[] = []
    const storage: string[] = []
    const off = engine.events.on('inventory.changed', (dto) => {
      for (const vm of dto.vms) if (vm.name === 'web') seen.push(vm.powerState)
      for (const s of dto.storage ?? []) storage.push(s.name)
    })
    try {
      engine.startBackground()
      for (let i = 0; i < 100 && seen.length === 0; i++) await sleep(50)
      await sim.vms.suspend(sim.vmByName('web').ref)
      for (let i = 0; i < 100 && !seen.includes('suspended'); i++) await sleep(50)
      expect(seen).toContain('suspended')
      await sim.vms.resume(sim.vmByName('web').ref)
      for (let i = 0; i < 100 && seen[seen.length - 1] !== 'running'; i++) await sleep(50)
      expect(seen[seen.length - 1]).toBe('running')
      expect(storage).toContain('Local storage')
    } finally {
      off()
      await engine.inventory.stop()
    }
  })

  it('a backup cancelled mid-export leaves no Lifeboat snapshot or VDI on the pool', async () => {
    sim.faults.transferBytesPerSecond = 8 * MiB
    try {
      const { jobId } = await run('backup.start', { host: 'pool1', vm: 'big', mode: 'hot', incremental: false })
      for (let i = 0; i < 200 && sim.stats.exportBytes < 2 * MiB; i++) await sleep(50)
      await run('jobs.cancel', { jobId })
      const done = await job(jobId)
      expect(done.state).toBe('cancelled')
    } finally {
      sim.faults.transferBytesPerSecond = undefined
    }
    const big = sim.vmByName('big')
    expect(sim.db.all('VM').filter(([, r]) => r.snapshot_of === big.ref)).toEqual([])
    expect(sim.lifeboatObjects().filter((o) => o.other['lifeboat:vm'] === big.record.uuid)).toEqual([])
  })
})
