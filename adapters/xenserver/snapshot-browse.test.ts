import { readFileSync } from 'node:fs'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { XapiSim } from '../../test-hosts/xapi-sim/sim'
import type { BackupDisk, Vm } from '../host-adapter'
import { SpooledExport } from './spooled-export'
import { XapiClient } from './xapi-client'
import type { XenServerAdapter } from './xenserver-adapter'
import { adapterFor, MiB, signal, startSim } from './testing/sim-fixture'

const SIZE = 8 * MiB

async function readGuest(d: BackupDisk): Promise<Buffer> {
  if (d.readout.kind !== 'guest') throw new Error('expected guest bytes')
  return await d.readout.disk.read(0, d.readout.disk.size)
}

async function closeAll(disks: readonly BackupDisk[] | undefined): Promise<void> {
  for (const d of disks ?? []) if (d.readout.kind === 'guest') await d.readout.disk.close()
}

describe('XenServer snapshots opened for browsing, against the XAPI simulator', () => {
  let sim: XapiSim
  let a: XenServerAdapter
  let vm: Vm
  const live = (i: number) => readFileSync(sim.disksOf('web')[i]?.path ?? '')

  beforeAll(async () => {
    sim = await startSim({ vms: [{ name: 'web', diskSize: SIZE, disks: 2 }, { name: 'other', diskSize: SIZE }] })
    a = adapterFor(sim)
    vm = (await a.inventory(signal())).vms.find((v) => v.name === 'web') as Vm
  })
  afterAll(async () => {
    await a.close()
    await sim.stop()
  })

  it('reads the snapshot VDIs as they were, over NBD, by uuid or by name; the snapshot and the VM are left as they are', async () => {
    const before = [live(0), live(1)]
    const snap = await a.snapshots.create(vm.id, { label: 'before patching' }, signal())
    await sim.writeGuest('web', 0, 0, Buffer.alloc(MiB, 0xee))
    await sim.writeGuest('web', 1, 5 * MiB, Buffer.alloc(4096, 0xdd))
    const snapshotsBefore = sim.db.all('VM').filter(([, r]) => r.is_a_snapshot === true).length
    sim.stats.nbdReads.clear()

    const disks = await a.snapshots.openDisks(vm.id, snap.id, signal())
    try {
      expect(disks.map((d) => [d.name, d.sizeBytes, d.readout.kind, (d.meta as { transport: string }).transport])).toEqual([
        ['xvda', SIZE, 'guest', 'nbd'],
        ['xvdb', SIZE, 'guest', 'nbd'],
      ])
      // The memory image of the checkpoint is not a disk.
      expect((await readGuest(disks[0] as BackupDisk)).equals(before[0] as Buffer)).toBe(true)
      expect((await readGuest(disks[1] as BackupDisk)).equals(before[1] as Buffer)).toBe(true)
      expect([...sim.stats.nbdReads.keys()].sort()).toEqual(disks.map((d) => d.id).sort())
      // A filesystem reader asks for any byte range; xapi-nbd serves whole sectors only, and knows no NBD_OPT_GO.
      const first = disks[0]?.readout
      if (first?.kind !== 'guest') throw new Error('not a guest readout')
      expect((await first.disk.read(1000, 3000)).equals((before[0] as Buffer).subarray(1000, 4000))).toBe(true)
      expect(sim.stats.nbdUnalignedReads).toBe(0)
      expect(sim.stats.nbdOptionsRefused).toEqual([])
    } finally {
      await closeAll(disks)
    }
    const byName = await a.snapshots.openDisks(vm.id, 'before patching', signal())
    await closeAll(byName)
    expect(byName.map((d) => d.id)).toEqual(disks.map((d) => d.id))
    expect(sim.db.all('VM').filter(([, r]) => r.is_a_snapshot === true)).toHaveLength(snapshotsBefore)
    expect(live(0).subarray(0, MiB).equals(Buffer.alloc(MiB, 0xee))).toBe(true)
    await a.snapshots.remove(vm.id, snap.id, signal())
  })

  it('tries every NBD server the pool lists, not only the first (one may be unreachable from here)', async () => {
    const snap = await a.snapshots.create(vm.id, { label: 'two addresses' }, signal())
    sim.faults.nbdUnreachableFirst = true
    try {
      const disks = await a.snapshots.openDisks(vm.id, snap.id, signal())
      try {
        expect(disks.map((d) => (d.meta as { transport: string }).transport)).toEqual(['nbd', 'nbd'])
      } finally {
        await closeAll(disks)
      }
    } finally {
      sim.faults.nbdUnreachableFirst = false
      await a.snapshots.remove(vm.id, snap.id, signal())
    }
  })

  it('without an NBD network: the raw export, kept in a local spool, serves reads in any order', async () => {
    const before = live(0)
    const snap = await a.snapshots.create(vm.id, { label: 'no nbd' }, signal())
    await sim.writeGuest('web', 0, 2 * MiB, Buffer.alloc(MiB, 0x77))
    sim.setNbd(false)
    const spools = async () => (await readdir(tmpdir())).filter((n) => n.startsWith('lifeboat-browse-'))
    const spoolsBefore = await spools()
    let disks: readonly BackupDisk[] = []
    try {
      disks = await a.snapshots.openDisks(vm.id, snap.id, signal())
      const d = disks[0] as BackupDisk
      expect((d.meta as { transport: string }).transport).toBe('export')
      if (d.readout.kind !== 'guest') throw new Error('expected guest bytes')
      const g = d.readout.disk
      for (const [offset, length] of [[6 * MiB, 4096], [512, 1024], [7 * MiB + 3, 100_000], [2 * MiB - 10, 20], [0, SIZE]] as const) {
        expect((await g.read(offset, length)).equals(before.subarray(offset, offset + length))).toBe(true)
      }
      expect((await spools()).length).toBe(spoolsBefore.length + 2)
    } finally {
      await closeAll(disks)
      sim.setNbd(true)
    }
    expect(await spools()).toEqual(spoolsBefore)
    await a.snapshots.remove(vm.id, snap.id, signal())
  })

  it('refuses what is not a snapshot of this VM, and says which names are ambiguous', async () => {
    const otherVm = (await a.inventory(signal())).vms.find((v) => v.name === 'other') as Vm
    const foreign = await a.snapshots.create(otherVm.id, { label: 'foreign' }, signal())
    await expect(a.snapshots.openDisks(vm.id, foreign.id, signal())).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(a.snapshots.openDisks(vm.id, 'foreign', signal())).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(a.snapshots.openDisks(vm.id, '00000000-0000-0000-0000-000000000000', signal())).rejects.toMatchObject({ code: 'NOT_FOUND' })
    const one = await a.snapshots.create(vm.id, { label: 'twice' }, signal())
    const two = await a.snapshots.create(vm.id, { label: 'twice' }, signal())
    await expect(a.snapshots.openDisks(vm.id, 'twice', signal())).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('2 snapshots named') as unknown })
    for (const s of [one, two]) await a.snapshots.remove(vm.id, s.id, signal())
    await a.snapshots.remove(otherVm.id, foreign.id, signal())
  })

  it('the spool keeps what passed once and restarts the export only for bytes it did not keep', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'lb-spool-test-'))
    const client = await XapiClient.open({ host: '127.0.0.1', port: sim.port, user: 'root', password: sim.password, pinnedFingerprint: sim.fingerprint, timeoutMs: 5000 }, signal())
    try {
      const disk = sim.disksOf('other')[0]
      if (disk === undefined) throw new Error('no disk')
      const bytes = readFileSync(disk.path)
      const exportsBefore = sim.stats.exportBytes
      const spool = await SpooledExport.open(client, { ref: disk.vdi, uuid: disk.uuid, size: SIZE, label: 'other xvda' }, { tmpDir: dir, maxSpoolBytes: 4 * MiB })
      expect((await spool.read(5 * MiB, 10)).equals(bytes.subarray(5 * MiB, 5 * MiB + 10))).toBe(true)
      expect((await spool.read(MiB, 10)).equals(bytes.subarray(MiB, MiB + 10))).toBe(true)
      const streamed = sim.stats.exportBytes - exportsBefore
      expect(streamed).toBe(SIZE) // one pass: 0 → 5 MiB + read-ahead to the end
      expect(spool.spooledBytes).toBe(4 * MiB) // the first 4 MiB piece; then the limit was reached
      // Past the spool's limit: the end of the disk was not kept, so reading it again restarts the export.
      expect((await spool.read(SIZE - 10, 10)).equals(bytes.subarray(SIZE - 10))).toBe(true)
      expect(sim.stats.exportBytes - exportsBefore).toBeGreaterThan(SIZE)
      await spool.close()
      expect(await readdir(dir)).toEqual([])
    } finally {
      await client.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
