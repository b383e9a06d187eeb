import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { XapiSim } from '../../test-hosts/xapi-sim/sim'
import type { BlockSource, RestoreRequest } from '../host-adapter'
import { CHAIN_WARNING } from './snapshots'
import type { XenServerAdapter } from './xenserver-adapter'
import { adapterFor, backupOptions, MiB, readAll, signal, startSim } from './testing/sim-fixture'

/** A restore point's disk as the engine hands it over: random reads, and (optionally) which parts are zero. */
function memoryDisk(data: Buffer, name: string, withExtents: boolean, failAfter?: number): BlockSource {
  let served = 0
  return {
    size: data.length,
    label: name,
    read: async (offset, length) => {
      served += length
      if (failAfter !== undefined && served > failAfter) throw new Error('the repository could not be read')
      return Promise.resolve(Buffer.from(data.subarray(offset, offset + length)))
    },
    ...(withExtents
      ? {
          async *extents() {
            await Promise.resolve()
            const piece = 1024 * 1024
            for (let at = 0; at < data.length; at += piece) {
              const chunk = data.subarray(at, Math.min(data.length, at + piece))
              yield { offset: at, length: chunk.length, kind: chunk.some((b) => b !== 0) ? ('data' as const) : ('zero' as const) }
            }
          },
        }
      : {}),
    close: () => Promise.resolve(),
  }
}

describe('XenServer restores, snapshot before patching and XVA against the XAPI simulator', () => {
  let sim: XapiSim
  let a: XenServerAdapter
  const ids = new Map<string, string>()

  beforeAll(async () => {
    sim = await startSim({ vms: [{ name: 'src', disks: 2, diskSize: 4 * MiB }, 'target', { name: 'stopped', powerState: 'Halted' }, { name: 'patch', diskSize: MiB }, { name: 'chain', diskSize: MiB, powerState: 'Halted' }, { name: 'xva', diskSize: 2 * MiB }, { name: 'disk-only', diskSize: MiB }] })
    a = adapterFor(sim)
    for (const vm of (await a.inventory(signal())).vms) ids.set(vm.name, vm.id)
  })
  afterAll(async () => {
    await a.close()
    await sim.stop()
  })

  const request = (over: Partial<RestoreRequest> & Pick<RestoreRequest, 'disks' | 'vmConfig'>): RestoreRequest & { logs: string[] } => {
    const logs: string[] = []
    return { name: 'restored', inPlace: false, start: false, log: (l, m) => logs.push(`${l}: ${m}`), phase: () => undefined, progress: () => undefined, ...over, logs }
  }

  it('restores a restore point as a new VM on the chosen SR: same settings and bytes, new MAC addresses, started', async () => {
    const session = await a.backup.begin(ids.get('src') ?? '', backupOptions({ incremental: false }), signal())
    const data = await readAll(session)
    await session.finish(signal(), { committed: true })
    const zeroed = Buffer.from(data.get('xvdb') ?? Buffer.alloc(0))
    zeroed.fill(0, MiB, 3 * MiB)
    const srUuid = sim.db.all('SR')[0]?.[1].uuid as string
    const progress: number[] = []
    const result = await a.restore.restoreVm(
      request({
        vmConfig: session.vmConfig,
        name: 'src (restored)',
        start: true,
        storageDir: srUuid,
        progress: (done) => progress.push(done),
        disks: [
          { name: 'xvda', size: 4 * MiB, source: memoryDisk(data.get('xvda') ?? Buffer.alloc(0), 'xvda', false), meta: session.disks[0]?.meta },
          { name: 'xvdb', size: 4 * MiB, source: memoryDisk(zeroed, 'xvdb', true), meta: session.disks[1]?.meta },
        ],
      }),
      signal(),
    )
    expect(result).toMatchObject({ name: 'src (restored)', started: true, leftBehind: [] })
    expect(progress.length).toBeGreaterThan(0)
    const restored = sim.vmByName('src (restored)')
    const original = sim.vmByName('src')
    expect(restored.record).toMatchObject({ power_state: 'Running', VCPUs_at_startup: original.record.VCPUs_at_startup, memory_static_max: original.record.memory_static_max, HVM_boot_policy: 'BIOS order' })
    expect((restored.record.other_config as Record<string, string>)['lifeboat:restored-from']).toBe(ids.get('src'))
    const disks = sim.disksOf('src (restored)')
    expect(readFileSync(disks[0]?.path ?? '').equals(data.get('xvda') ?? Buffer.alloc(1))).toBe(true)
    expect(readFileSync(disks[1]?.path ?? '').equals(zeroed)).toBe(true)
    const mac = (vm: { record: Record<string, unknown> }) => (vm.record.VIFs as string[]).map((v) => sim.db.get('VIF', v).MAC)
    expect(mac(restored)).toHaveLength(1)
    expect(mac(restored)).not.toEqual(mac(original))
  })

  it('overwrites the disks of a stopped VM in place byte for byte, zero regions of the point included, and refuses a running one', async () => {
    // Zero 2 MiB blocks (which a sparse upload would leave out) and a zero run inside a block holding data.
    const data = Buffer.alloc(8 * MiB, 0x42)
    data.fill(0, 2 * MiB, 6 * MiB)
    data.fill(0, 7 * MiB, 7 * MiB + 4096)
    const before = readFileSync(sim.disksOf('stopped')[0]?.path ?? '')
    expect(before.subarray(2 * MiB, 6 * MiB).some((b) => b !== 0)).toBe(true)
    const result = await a.restore.restoreVm(request({ vmConfig: null, name: 'stopped', inPlace: true, disks: [{ name: 'xvda', size: 8 * MiB, source: memoryDisk(data, 'xvda', true) }] }), signal())
    expect(result.vmId).toBe(ids.get('stopped'))
    expect(readFileSync(sim.disksOf('stopped')[0]?.path ?? '').equals(data)).toBe(true)
    const refused = await a.restore.restoreVm(request({ vmConfig: null, name: 'target', inPlace: true, disks: [{ name: 'xvda', size: 8 * MiB, source: memoryDisk(data, 'xvda', true) }] }), signal()).catch((e: unknown) => e)
    expect(refused).toMatchObject({ code: 'NOT_SUPPORTED' })
  })

  it('attaches one restored disk to an existing running VM (hot-plugged)', async () => {
    const data = Buffer.alloc(3 * MiB, 7)
    const result = await a.restore.restoreDisk({ vm: 'target', disk: { name: 'xvda', size: data.length, source: memoryDisk(data, 'xvda', true) }, log: () => undefined, phase: () => undefined, progress: () => undefined }, signal())
    expect(result).toMatchObject({ vmId: ids.get('target'), plugged: true, device: '1' })
    const attached = sim.disksOf('target')
    expect(attached).toHaveLength(2)
    expect(readFileSync(attached[1]?.path ?? '').equals(data)).toBe(true)
  })

  it('removes what a failed restore created (VM and VDIs)', async () => {
    const vms = sim.db.all('VM').length
    const vdis = sim.db.all('VDI').length
    const err = await a.restore.restoreVm(request({ vmConfig: null, name: 'doomed', disks: [{ name: 'xvda', size: 8 * MiB, source: memoryDisk(Buffer.alloc(8 * MiB, 1), 'xvda', false, 3 * MiB) }] }), signal()).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Error)
    expect(sim.db.all('VM').length).toBe(vms)
    expect(sim.db.all('VDI').length).toBe(vdis)
  })

  it('snapshot before patching: tagged, with memory and an expiry; revert brings the disks and the running state back; discard removes it', async () => {
    const vm = ids.get('patch') ?? ''
    const before = readFileSync(sim.disksOf('patch')[0]?.path ?? '')
    const expires = new Date(Date.now() + 3 * 86400_000).toISOString()
    const snap = await a.snapshots.create(vm, { label: 'before kernel update', expiresAt: expires }, signal())
    expect(snap).toMatchObject({ name: 'before kernel update', lifeboat: true, purpose: 'before-patching', label: 'before kernel update', vmState: 'running', expiresAt: expires })
    expect(snap.warnings).toBeUndefined()
    expect((await a.snapshots.list(vm, signal())).map((s) => s.id)).toEqual([snap.id])
    expect(sim.vmByName('patch').record.other_config).not.toHaveProperty('lifeboat:purpose')

    await sim.writeGuest('patch', 0, 0, Buffer.alloc(4096, 0xee))
    await a.snapshots.revert(vm, snap.id, {}, signal())
    expect(sim.vmByName('patch').record.power_state).toBe('Running')
    expect(readFileSync(sim.disksOf('patch')[0]?.path ?? '').equals(before)).toBe(true)

    await a.snapshots.revert(vm, snap.id, { start: false }, signal())
    expect(sim.vmByName('patch').record.power_state).toBe('Halted')

    const vdisBefore = sim.db.all('VDI').length
    await a.snapshots.remove(vm, snap.id, signal())
    expect(await a.snapshots.list(vm, signal())).toEqual([])
    expect(sim.db.all('VDI').length).toBeLessThan(vdisBefore)
    expect(sim.lifeboatObjects().filter((o) => o.other['lifeboat:vm'] === vm)).toEqual([])
  })

  it('a disk-only snapshot of a running VM says so, and reverting it starts the VM again', async () => {
    const vm = ids.get('disk-only') ?? ''
    sim.core.faults.checkpointFails = true
    try {
      const snap = await a.snapshots.create(vm, { label: 'no memory' }, signal())
      expect(snap.warnings).toEqual([expect.stringContaining('disks only')])
      expect(snap.vmState).toBe('running')
      await a.snapshots.revert(vm, snap.id, {}, signal())
      expect(sim.vmByName('disk-only').record.power_state).toBe('Running')
      await a.snapshots.remove(vm, snap.id, signal())
    } finally {
      sim.core.faults.checkpointFails = false
    }
  })

  it('restores a VM saved while Suspended as a halted VM (it has no memory image to resume from)', async () => {
    const session = await a.backup.begin(ids.get('src') ?? '', backupOptions({ incremental: false }), signal())
    const data = await readAll(session)
    await session.finish(signal(), { committed: true })
    const config = session.vmConfig as { vm: Record<string, unknown> }
    const result = await a.restore.restoreVm(
      request({
        vmConfig: { ...config, vm: { ...config.vm, power_state: 'Suspended' } },
        name: 'was suspended',
        disks: session.disks.map((d) => ({ name: d.name, size: d.sizeBytes, source: memoryDisk(data.get(d.name) ?? Buffer.alloc(0), d.name, false), meta: d.meta })),
      }),
      signal(),
    )
    expect(result).toMatchObject({ started: false })
    expect(sim.vmByName('was suspended').record.power_state).toBe('Halted')
  })

  it('warns when the disk chain is already long or the SR is nearly full', async () => {
    const vm = ids.get('chain') ?? ''
    const [disk] = sim.disksOf('chain')
    for (let i = 0; i < CHAIN_WARNING; i++) await sim.vdis.snapshot(disk?.vdi ?? '')
    const sr = sim.db.get('VDI', disk?.vdi ?? '').SR as string
    const srRecord = sim.db.get('SR', sr)
    const size = srRecord.physical_size ?? 0
    sim.db.set('SR', sr, { physical_size: Number(srRecord.physical_utilisation) + 512 * 1024 })
    try {
      const snap = await a.snapshots.create(vm, { label: 'risky' }, signal())
      expect(snap.warnings).toEqual([expect.stringContaining(`chain of ${CHAIN_WARNING} snapshots`), expect.stringContaining('can run out of space')])
      await a.snapshots.remove(vm, snap.id, signal())
    } finally {
      sim.db.set('SR', sr, { physical_size: size })
    }
  })

  it('exports a running VM as an XVA (through a temporary snapshot) and imports it as a new VM', async () => {
    const original = readFileSync(sim.disksOf('xva')[0]?.path ?? '')
    const parts: Buffer[] = []
    const vmsBefore = sim.db.all('VM').filter(([, r]) => r.is_a_snapshot === true).length
    const { bytes } = await a.archive.export(ids.get('xva') ?? '', async (data) => {
      for await (const chunk of data) parts.push(chunk)
    }, {}, signal())
    const xva = Buffer.concat(parts)
    expect(bytes).toBe(xva.length)
    expect(xva.subarray(0, 7).toString()).toBe('ova.xml')
    expect(sim.db.all('VM').filter(([, r]) => r.is_a_snapshot === true).length).toBe(vmsBefore)
    const imported = await a.archive.import({ size: xva.length, open: async function* () {
      await Promise.resolve()
      yield xva
    } }, { start: true }, signal())
    expect(imported).toMatchObject({ name: 'xva', started: true })
    const copies = sim.db.all('VM').filter(([, r]) => r.uuid === imported.vmId)
    expect(copies).toHaveLength(1)
    // A snapshot is a template and the import keeps the flag: the copy must be a VM (startable, in the inventory).
    expect(copies[0]?.[1].is_a_template).toBe(false)
    expect((await a.inventory(signal())).vms.map((v) => v.id)).toContain(imported.vmId)
    const vbd = (copies[0]?.[1].VBDs as string[]).map((b) => sim.db.get('VBD', b)).find((b) => b.type === 'Disk')
    const uuid = sim.db.get('VDI', vbd?.VDI as string).uuid as string
    expect(readFileSync(sim.core.storage.path(uuid)).equals(original)).toBe(true)
  })
})
