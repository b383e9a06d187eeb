import { randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { integrationObject } from '../../test-hosts/hyperv-sim/hyperv/objects'
import { simWithAdapter, type SimAndAdapter } from '../../test-hosts/hyperv-sim/testing'
import type { JsonValue } from '../host-adapter'
import { findService, isService, serviceOk } from './integration-services'
import { hasQemuImg, scsiDiskInput } from './testing/disk-input'

const MiB = 1024 * 1024
const signal = () => AbortSignal.timeout(120_000)

describe('integration services are found by their Id, not their localized name', () => {
  it('matches the GUID at the end of the Id, in any case, and reads Ok from PrimaryOperationalStatus only', () => {
    const vm = '5A1B2C3D-0000-4000-8000-00000000ABCD'
    const takt = { Id: `Microsoft:${vm}\\84EAAE65-2F2E-45F5-9BB5-0E857DC8EB47`, Name: 'Takt', Enabled: true, PrimaryStatusDescription: 'OK', PrimaryOperationalStatus: 'Ok' }
    const gsi = { Id: `Microsoft:${vm.toLowerCase()}\\6c09bb55-d683-4da0-8931-c9bf705f6480`, Name: 'Gastdienstschnittstelle', Enabled: true, PrimaryOperationalStatus: 'NoContact' }
    expect(isService(takt, 'heartbeat')).toBe(true)
    expect(isService(takt, 'guestServiceInterface')).toBe(false)
    expect(findService([takt, gsi], 'guestServiceInterface')).toBe(gsi)
    // A service named "Heartbeat" without the Heartbeat GUID is not the heartbeat (names are not trusted).
    expect(findService([{ Id: `Microsoft:${vm}\\00000000-0000-0000-0000-000000000000`, Name: 'Heartbeat' }], 'heartbeat')).toBeUndefined()
    expect(serviceOk(takt)).toBe(true)
    expect(serviceOk(gsi)).toBe(false)
    expect(serviceOk({ ...takt, Enabled: false })).toBe(false)
    expect(serviceOk({ Enabled: true, PrimaryOperationalStatus: null })).toBe(false)
  })

  describe('against a simulated German Hyper-V host (Takt, Gastdienstschnittstelle)', () => {
    let t: SimAndAdapter
    beforeAll(async () => {
      t = await simWithAdapter({ vms: ['web', 'files'] })
      t.sim.host.culture = 'de-DE'
    })
    afterAll(async () => t.close())

    it('the host really speaks German: localized names, and Ids made of the VM id and the service GUID', () => {
      const vm = t.vm('web')
      const heartbeat = integrationObject(t.sim.host, vm, 'Heartbeat')
      const gsi = integrationObject(t.sim.host, vm, 'Guest Service Interface')
      expect([heartbeat.get('Name'), heartbeat.get('Id')]).toEqual(['Takt', `Microsoft:${vm.id.toUpperCase()}\\84EAAE65-2F2E-45F5-9BB5-0E857DC8EB47`])
      expect([gsi.get('Name'), gsi.get('Id')]).toEqual(['Gastdienstschnittstelle', `Microsoft:${vm.id.toUpperCase()}\\6C09BB55-D683-4DA0-8931-C9BF705F6480`])
    })

    it('inventory: a running guest with heartbeat and VSS shows its integration services as working', async () => {
      const inv = await t.adapter.inventory(signal())
      expect(inv.vms.find((v) => v.name === 'web')).toMatchObject({ powerState: 'running', guestAgent: true })
    })

    it('a file goes into the guest when the Gastdienstschnittstelle is on, and the refusal names it as the host does', async () => {
      const vm = t.vm('files')
      const data = (): AsyncIterable<Buffer> => Readable.from([Buffer.from('abc')])
      await expect(t.adapter.guestFiles.copyIn(vm.id, { guestPath: 'C:\\a.txt', size: 3, data: data(), overwrite: true }, signal())).rejects.toThrow(/The Gastdienstschnittstelle integration service of files is off/)
      vm.integration.set('Guest Service Interface', true)
      await t.adapter.guestFiles.copyIn(vm.id, { guestPath: 'C:\\a.txt', size: 3, data: data(), overwrite: true }, signal())
      expect(vm.guest.copiedIn.get('C:\\a.txt')?.toString()).toBe('abc')
    })

    it.skipIf(!hasQemuImg)('a health check sees the heartbeat (Takt) of a point that boots', async () => {
      const bootable = Buffer.alloc(MiB, 7)
      bootable.writeUInt16BE(0x55aa, 510)
      t.sim.host.timing.guestBootMs = 200
      const vmConfig: JsonValue = { family: 'hyperv', id: 'x', name: 'x', generation: 2, processorCount: 1, memoryStartup: 512 * MiB, dynamicMemory: false, checkpointType: 'Production', drives: [], nics: [] }
      const checked = await t.adapter.healthCheck.bootCheck({ jobId: randomUUID(), vmConfig, disks: [scsiDiskInput(bootable, 0, 0)], timeoutMs: 30_000, log: () => undefined, phase: () => undefined, progress: () => undefined }, signal())
      expect(checked).toMatchObject({ booted: true, leftBehind: [] })
      expect(checked.reason).toMatch(/^the Heartbeat integration service reported OK after/)
    })
  })
})
