import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { XapiSim } from '../../test-hosts/xapi-sim/sim'
import type { JsonValue } from '../host-adapter'
import { CBT_BLOCK } from './incremental'
import type { XenServerAdapter } from './xenserver-adapter'
import { adapterFor, backupOptions, MiB, readAll, signal, startSim } from './testing/sim-fixture'

/**
 * A pool keeps the dom0 VBD of each transfer (/export_raw_vdi, NBD) for a moment after the client saw it end; here
 * for longer than VDI.data_destroy waits (4 s), so both VDI.destroy and VDI.data_destroy answer VDI_IN_USE at first.
 */
describe('XenServer cleanup while the pool still holds a transfer dom0 VBD', () => {
  let sim: XapiSim
  let a: XenServerAdapter
  let vm = ''

  beforeAll(async () => {
    sim = await startSim({ vms: [{ name: 'held', diskSize: 4 * MiB }], dom0VbdHold: { minMs: 4300, maxMs: 4600 } })
    a = adapterFor(sim)
    vm = (await a.inventory(signal())).vms.find((v) => v.name === 'held')?.id ?? ''
  })
  afterAll(async () => {
    await a.close()
    await sim.stop()
  })

  const lifeboat = () => sim.lifeboatObjects().filter((o) => o.other['lifeboat:vm'] === vm)

  it('keeps the changed-block reference and leaves nothing behind, after an export and after NBD reads', async () => {
    const first = await a.backup.begin(vm, backupOptions(), signal())
    const full = await readAll(first)
    expect(sim.db.all('VBD').some(([, b]) => sim.db.find('VM', b.VM as string)?.is_control_domain === true && b.currently_attached === true)).toBe(true)
    expect((await first.finish(signal(), { committed: true })).leftBehind).toEqual([])
    expect(lifeboat()).toEqual([expect.objectContaining({ cls: 'VDI', type: 'cbt_metadata' })])

    await sim.writeGuest('held', 0, 3 * CBT_BLOCK, Buffer.alloc(100, 0xab))
    const second = await a.backup.begin(vm, backupOptions({ previous: { pointId: 'p1', token: first.incrementalToken as JsonValue } }), signal())
    expect(second.fullReason).toBeUndefined()
    await readAll(second, full)
    expect((await second.finish(signal(), { committed: true })).leftBehind).toEqual([])
    const kept = lifeboat()
    expect(kept).toHaveLength(1)
    expect(kept[0]?.type).toBe('cbt_metadata')
    expect(sim.db.all('VM').filter(([, r]) => r.is_a_snapshot === true)).toEqual([])
  }, 60_000)
})
