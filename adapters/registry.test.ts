import { describe, expect, it } from 'vitest'
import type { AdapterFactory, AdapterOptions, HostAdapter, HostKind } from './host-adapter'
import { AdapterRegistry, defaultAdapterRegistry } from './registry'

const options = (kind: HostKind): AdapterOptions => ({ endpoint: { kind, address: '192.0.2.1', port: 22, user: 'root' }, secret: { type: 'password', password: 'x' } })

describe('the adapter registry', () => {
  it('loads a kind on first use, once for callers that ask together, and retries a load that failed', async () => {
    const loads: HostKind[] = []
    let failNext = true
    const made = (kind: HostKind): AdapterFactory => () => ({ kind }) as unknown as HostAdapter
    const loader = (kind: HostKind) => ({
      load: async (): Promise<AdapterFactory> => {
        loads.push(kind)
        await Promise.resolve()
        if (kind === 'hyperv' && failNext) {
          failNext = false
          throw new Error('broken install')
        }
        return made(kind)
      },
    })
    const registry = new AdapterRegistry({ linux: loader('linux'), hyperv: loader('hyperv'), xenserver: made('xenserver') })
    expect(loads).toEqual([])
    const [a, b] = await Promise.all([registry.create(options('linux')), registry.create(options('linux'))])
    expect([a, b]).toEqual([{ kind: 'linux' }, { kind: 'linux' }])
    expect(loads).toEqual(['linux'])
    await expect(registry.create(options('hyperv'))).rejects.toThrow('broken install')
    await expect(registry.create(options('hyperv'))).resolves.toEqual({ kind: 'hyperv' })
    await expect(registry.create(options('xenserver'))).resolves.toEqual({ kind: 'xenserver' })
    expect(loads).toEqual(['linux', 'hyperv', 'hyperv'])
  })

  it('gives the real adapters by default', async () => {
    const registry = defaultAdapterRegistry()
    for (const kind of ['linux', 'hyperv', 'xenserver'] as const) {
      const adapter = await registry.create(options(kind))
      expect(typeof adapter.connect).toBe('function')
      await adapter.close()
    }
  })
})
