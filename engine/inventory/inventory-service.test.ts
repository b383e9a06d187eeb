import { describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { HostAdapter, Inventory, Vm } from '../../adapters/host-adapter'
import { AdapterRegistry } from '../../adapters/registry'
import { EventBus } from '../common/event-bus'
import { HostsStore } from '../state/hosts-store'
import { nodeSecretStore } from '../state/secret-store'
import { InventoryService } from './inventory-service'

const vm = (name: string): Vm => ({ id: name, name, powerState: 'running', disks: [], snapshots: [] })

describe('inventory service', () => {
  it('"ask now" (refresh) is answered by a look that began after it was asked, not by one already under way', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'lb-inventory-'))
    try {
      // The host's VMs as the host would list them now, and a gate that holds every inventory call until let go.
      let vms = ['a', 'b-rescue']
      const gates: (() => void)[] = []
      const fake = {
        connect: () => Promise.resolve({ hostname: 'kvm1' }),
        inventory: async (): Promise<Inventory> => {
          const seen = [...vms] // what the host says when the look begins
          await new Promise<void>((resolve) => gates.push(resolve))
          return { hostname: 'kvm1', hosts: [], vms: seen.map(vm) }
        },
        close: () => Promise.resolve(),
      }
      const hosts = new HostsStore(path.join(dir, 'hosts.json'))
      await hosts.add({ id: 'h1', kind: 'linux', name: 'kvm1', address: '10.0.0.1', port: 22, user: 'root', authType: 'key', fingerprint: 'SHA256:x', fingerprintType: 'ssh-ed25519', addedAt: new Date().toISOString() })
      const secrets = nodeSecretStore(path.join(dir, 'secrets.json'), {})
      await secrets.set('h1', { type: 'password', password: 'pw' })
      const factory = () => fake as unknown as HostAdapter
      const service = new InventoryService({ hosts, secrets, adapters: new AdapterRegistry({ linux: factory, hyperv: factory, xenserver: factory }), events: new EventBus() })
      /** Lets the oldest look waiting at the host finish; fails when no look is waiting within 3 s. */
      const let1 = async () => {
        for (let i = 0; gates.length === 0; i++) {
          if (i > 300) throw new Error('no look at the host began')
          await new Promise((resolve) => setTimeout(resolve, 10))
        }
        gates.shift()?.()
      }
      // A look is under way (say, the one a job's end started) when the VM is removed and the caller asks again.
      const first = service.refresh('h1')
      while (gates.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
      vms = ['a']
      const asked = service.refresh('h1')
      // Let the request reach the host's look (it reads the hosts file first) before the look under way ends.
      await new Promise((resolve) => setTimeout(resolve, 200))
      await let1() // the look that began before the removal ends: it still lists b-rescue
      expect((await first).hosts[0]?.vms.map((v) => v.name)).toEqual(['a', 'b-rescue'])
      await let1() // the next look, begun after the request
      expect((await asked).hosts[0]?.vms.map((v) => v.name)).toEqual(['a'])
      await service.stop()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
