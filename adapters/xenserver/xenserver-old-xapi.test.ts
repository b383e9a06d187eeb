import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { XapiSim } from '../../test-hosts/xapi-sim/sim'
import type { XenServerAdapter } from './xenserver-adapter'
import { adapterFor, backupOptions, MiB, readAll, signal, startSim } from './testing/sim-fixture'

/**
 * A pool on XAPI 1.249 (XCP-ng 8.2 LTS), with the fields, messages and parameters of that release only: VM.snapshot
 * takes no ignore_vdis, Certificate records have `fingerprint` and no `fingerprint_sha256` (24.20.0) nor `type`.
 */
describe('XenServer against an older XAPI (1.249, XCP-ng 8.2 LTS)', () => {
  let sim: XapiSim
  let a: XenServerAdapter
  const ids = new Map<string, string>()

  beforeAll(async () => {
    sim = await startSim({ vms: [{ name: 'lts', diskSize: 2 * MiB }, { name: 'far', on: 'slave', diskSize: MiB }], pool: { slave: true, slaveAddress: '127.0.0.9' }, xapiVersion: '1.249.0' })
    a = adapterFor(sim)
    for (const vm of (await a.inventory(signal())).vms) ids.set(vm.name, vm.id)
  })
  afterAll(async () => {
    await a.close()
    await sim.stop()
  })

  it('hot backup, disk-only snapshot before patching and XVA export all snapshot without ignore_vdis', async () => {
    const vm = ids.get('lts') ?? ''
    const session = await a.backup.begin(vm, backupOptions({ incremental: false }), signal())
    await readAll(session)
    expect((await session.finish(signal(), { committed: true })).leftBehind).toEqual([])

    sim.faults.checkpointFails = true
    try {
      const snap = await a.snapshots.create(vm, { label: 'lts patch' }, signal())
      await a.snapshots.remove(vm, snap.id, signal())
    } finally {
      sim.faults.checkpointFails = false
    }

    let received = 0
    const { bytes } = await a.archive.export(vm, async (data) => {
      for await (const chunk of data) received += chunk.length
    }, {}, signal())
    expect(bytes).toBe(received)
    expect(bytes).toBeGreaterThan(2 * MiB)
  })

  it("reads a disk on a member's local SR from that member, trusting the certificate the master's old `fingerprint` field names", async () => {
    const session = await a.backup.begin(ids.get('far') ?? '', backupOptions({ incremental: false }), signal())
    const data = await readAll(session)
    expect((await session.finish(signal(), { committed: true })).leftBehind).toEqual([])
    const [disk] = sim.disksOf('far')
    expect(data.get('xvda')?.equals(await sim.core.storage.read(disk?.uuid ?? '', 0, MiB))).toBe(true)
    expect(sim.core.stats.calls).not.toContain('host.get_server_certificate')
  })
})
