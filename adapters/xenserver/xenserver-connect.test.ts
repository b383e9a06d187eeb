import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { XapiSim } from '../../test-hosts/xapi-sim/sim'
import { AdapterError, type InventoryEvent } from '../host-adapter'
import { adapterFor, backupOptions, MiB, playedVersion, readAll, signal, startSim } from './testing/sim-fixture'

const hostile = ['web "prod"; rm -rf /', "O'Brien's <VM> & co", 'πολύ\nnewline\tand\u0000nul', '$(reboot)`id`', ' '.repeat(3), 'x'.repeat(300)]

describe('XenServer adapter against the XAPI simulator: connection, pinning, pool master, live inventory', () => {
  let sim: XapiSim
  let other: XapiSim

  beforeAll(async () => {
    sim = await startSim({ vms: ['web', ...hostile.map((name) => ({ name, powerState: 'Halted' as const, diskSize: MiB }))], pool: { slave: true } })
    await sim.addVm({ name: 'on-slave', on: 'slave', diskSize: 2 * MiB })
    other = await startSim({ pool: { slave: true, slaveAddress: '127.0.0.3' } })
  })
  afterAll(async () => {
    await sim.stop()
    await other.stop()
  })

  it('shows an unknown certificate before sending any credential, and refuses a changed one', async () => {
    const seenBefore = sim.stats.calls.length
    const unknown = await adapterFor(sim, { fingerprint: null }).connect(signal()).catch((e: unknown) => e)
    expect(unknown).toMatchObject({ code: 'HOST_KEY_UNKNOWN', params: { fingerprint: sim.fingerprint } })
    const changed = adapterFor(sim, { fingerprint: other.fingerprint })
    const err = await changed.connect(signal()).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AdapterError)
    expect((err as AdapterError).code).toBe('HOST_KEY_MISMATCH')
    await changed.close()
    // The only thing that may have reached the pool is the credential-free question "are you a pool member?".
    const calls = sim.stats.calls.slice(seenBefore)
    expect(calls.every((c) => c === 'session.login_with_password')).toBe(true)
    expect(sim.db.all('session').length).toBe(0)
  })

  it('logs in, names the pool and lists VMs (not dom0, templates or snapshots), hostile names kept as they are', async () => {
    const a = adapterFor(sim)
    try {
      const identity = await a.connect(signal())
      expect(identity).toMatchObject({ hostname: 'Lifeboat test pool', os: 'XCP-ng', version: playedVersion?.startsWith('1.') === true ? '8.2.1' : '8.3.0', fingerprint: sim.fingerprint, fingerprintType: 'tls-certificate' })
      const inv = await a.inventory(signal())
      expect(inv.hosts.map((h) => h.name).sort()).toEqual(['xcp-sim-1', 'xcp-sim-2'])
      expect(inv.vms.map((v) => v.name).sort()).toEqual(['on-slave', 'web', ...hostile].sort())
      const web = inv.vms.find((v) => v.name === 'web')
      expect(web).toMatchObject({ powerState: 'running', residentOn: 'xcp-sim-1', cpus: 2, memoryBytes: 1024 ** 3, guestAgent: true, os: 'Debian GNU/Linux 12 (bookworm)' })
      expect(web?.disks).toEqual([expect.objectContaining({ sizeBytes: 8 * MiB, format: 'vhd' })])
      for (const name of hostile) {
        const vm = inv.vms.find((v) => v.name === name)
        expect(vm?.powerState).toBe('halted')
        const session = await a.backup.begin(vm?.id ?? '', backupOptions({ mode: 'hot' }), signal())
        const data = await readAll(session)
        await session.finish(signal(), { committed: false })
        expect(data.get('xvda')?.equals(Buffer.from(await sim.core.storage.read(sim.disksOf(name)[0]?.uuid ?? '', 0, MiB)))).toBe(true)
      }
      expect(sim.lifeboatObjects()).toEqual([])
    } finally {
      await a.close()
    }
  })

  it('follows the pool master when given a member whose certificate is the pinned one (shared certificate)', async () => {
    const shared = await startSim({ pool: { slave: true, slaveAddress: '127.0.0.4', sharedCertificate: true }, vms: ['a'] })
    try {
      const a = adapterFor(shared, { address: '127.0.0.4' })
      const inv = await a.inventory(signal())
      expect(inv.vms.map((v) => v.name)).toEqual(['a'])
      await a.close()
    } finally {
      await shared.stop()
    }
  })

  it("asks to confirm the master's certificate when a member redirects to it, then follows with that pin", async () => {
    const first = adapterFor(sim, { address: '127.0.0.2', fingerprint: sim.core.hosts[1]?.fingerprint ?? '' })
    const err = await first.connect(signal()).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'HOST_KEY_UNKNOWN', params: { address: '127.0.0.1', fingerprint: sim.fingerprint, redirectedFrom: '127.0.0.2' } })
    await first.close()
    const second = adapterFor(sim, { address: '127.0.0.2', fingerprint: sim.fingerprint })
    expect((await second.connect(signal())).hostname).toBe('Lifeboat test pool')
    await second.close()
  })

  it("reads a disk on a member's local SR from that member, checking the certificate the master reported for it", async () => {
    const a = adapterFor(sim)
    try {
      const vm = (await a.inventory(signal())).vms.find((v) => v.name === 'on-slave')
      const session = await a.backup.begin(vm?.id ?? '', backupOptions({ mode: 'hot', incremental: false }), signal())
      const data = await readAll(session)
      await session.finish(signal(), { committed: true })
      const [disk] = sim.disksOf('on-slave')
      expect(data.get('xvda')?.equals(await sim.core.storage.read(disk?.uuid ?? '', 0, 2 * MiB))).toBe(true)
    } finally {
      await a.close()
    }
  })

  it("uploads an XVA to a member's local SR where XAPI redirects the PUT, probing with an empty body first (as Xen Orchestra does)", async () => {
    await sim.addVm({ name: 'big-far', on: 'slave', diskSize: 24 * MiB, powerState: 'Halted' })
    const slave = sim.core.hosts[1]
    const srRef = (sim.db.get('host', slave?.ref ?? '').PBDs as string[]).map((p) => sim.db.get('PBD', p).SR as string)[0] ?? ''
    const a = adapterFor(sim)
    try {
      const vm = (await a.inventory(signal())).vms.find((v) => v.name === 'big-far')
      const parts: Buffer[] = []
      await a.archive.export(vm?.id ?? '', async (data) => {
        for await (const chunk of data) parts.push(chunk)
      }, {}, signal())
      const xva = Buffer.concat(parts)
      expect(xva.length).toBeGreaterThan(24 * MiB)
      const [disk] = sim.disksOf('big-far')
      const original = await sim.core.storage.read(disk?.uuid ?? '', 0, 24 * MiB)
      let opened = 0
      const imported = await a.archive.import({ size: xva.length, open: async function* () {
        opened++
        for (let at = 0; at < xva.length; at += MiB) {
          await Promise.resolve()
          yield xva.subarray(at, at + MiB)
        }
      } }, { storage: sim.db.get('SR', srRef).uuid as string }, signal())
      // The data went once, straight to the member: the probe carried no body.
      expect(opened).toBe(1)
      const [copy] = sim.db.all('VM').filter(([, r]) => r.uuid === imported.vmId)
      const vbd = (copy?.[1].VBDs as string[]).map((b) => sim.db.get('VBD', b)).find((b) => b.type === 'Disk')
      const vdi = sim.db.get('VDI', vbd?.VDI as string)
      expect(vdi.SR).toBe(srRef)
      expect((await sim.core.storage.read(vdi.uuid as string, 0, 24 * MiB)).equals(original)).toBe(true)
    } finally {
      await a.close()
    }
  })

  it('keeps the inventory live with event.from and recovers from EVENTS_LOST and an expired session by itself', async () => {
    const a = adapterFor(sim)
    const stop = new AbortController()
    const events: InventoryEvent[] = []
    const waitFor = async (pred: (e: InventoryEvent) => boolean) => {
      for (let i = 0; i < 200; i++) {
        if (events.some(pred)) return
        await new Promise((r) => setTimeout(r, 50))
      }
      throw new Error(`no such event among ${events.map((e) => e.type).join(', ')}`)
    }
    const pump = (async () => {
      for await (const e of a.watch(stop.signal)) events.push(e)
    })()
    try {
      await waitFor((e) => e.type === 'resync')
      const web = sim.vmByName('web').ref
      await sim.vms.suspend(web)
      await waitFor((e) => e.type === 'vm-changed' && e.vm.name === 'web' && e.vm.powerState === 'suspended')
      events.length = 0
      sim.loseEvents()
      await sim.vms.resume(web)
      await waitFor((e) => e.type === 'resync' && e.inventory.vms.some((v) => v.name === 'web' && v.powerState === 'running'))
      events.length = 0
      sim.expireSessions()
      await sim.vms.suspend(web)
      await waitFor((e) => (e.type === 'vm-changed' && e.vm.name === 'web' && e.vm.powerState === 'suspended') || (e.type === 'resync' && e.inventory.vms.some((v) => v.name === 'web' && v.powerState === 'suspended')))
      expect(sim.db.all('session').length).toBeGreaterThan(0)
      await sim.vms.resume(web)
      const added = await sim.addVm({ name: 'new one', powerState: 'Halted', diskSize: MiB })
      await waitFor((e) => e.type === 'vm-changed' && e.vm.name === 'new one')
      await sim.vms.destroy(added.ref)
      await waitFor((e) => e.type === 'vm-removed' && e.vmId === added.uuid)
    } finally {
      stop.abort()
      await pump
      await a.close()
    }
  })
})

describe('XAPI HTTP transfers follow redirects only to pool members with the certificate the master reported', () => {
  let sim: XapiSim
  beforeAll(async () => {
    sim = await startSim({ pool: { slave: true, slaveAddress: '127.0.0.5' } })
    await sim.addVm({ name: 'remote', on: 'slave', diskSize: MiB, powerState: 'Halted' })
  })
  afterAll(async () => {
    await sim.stop()
  })

  it('reads through the 302 to the member, and refuses it when the member presents another certificate', async () => {
    const { XapiClient } = await import('./xapi-client')
    const client = await XapiClient.open({ host: '127.0.0.1', port: sim.port, user: 'root', password: sim.password, pinnedFingerprint: sim.fingerprint, timeoutMs: 5000 }, signal())
    try {
      const [disk] = sim.disksOf('remote')
      const member = sim.core.hosts[1]?.fingerprint ?? ''
      client.trust.learn('127.0.0.5', sim.fingerprint)
      const err = await client.http.get('/export_raw_vdi', { query: { vdi: disk?.vdi ?? '', format: 'raw' }, signal: signal() }).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'HOST_KEY_MISMATCH', params: { address: '127.0.0.5', fingerprint: member } })
      client.trust.learn('127.0.0.5', member)
      const { body } = await client.http.get('/export_raw_vdi', { query: { vdi: disk?.vdi ?? '', format: 'raw' }, signal: signal() })
      const parts: Buffer[] = []
      for await (const c of body as AsyncIterable<Buffer>) parts.push(c)
      expect(Buffer.concat(parts).equals(await sim.core.storage.read(disk?.uuid ?? '', 0, MiB))).toBe(true)
    } finally {
      await client.close()
    }
  })
})
