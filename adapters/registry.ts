import type { AdapterFactory, AdapterOptions, HostAdapter, HostKind } from './host-adapter'

/** A factory, or a loader that brings its module in on first use. */
type FactorySource = AdapterFactory | { readonly load: () => Promise<AdapterFactory> }

/**
 * Picks the adapter for a host's kind. Tests pass their own factories; the app uses the defaults, each loaded on
 * first use: a command that never talks to a host (a file backup, an export, a restore from the repository) does
 * not pay for loading the XAPI, Hyper-V and libvirt code (half the engine's code).
 */
export class AdapterRegistry {
  private readonly loaded = new Map<HostKind, Promise<AdapterFactory>>()

  constructor(private readonly factories: Readonly<Record<HostKind, FactorySource>>) {}

  async create(options: AdapterOptions): Promise<HostAdapter> {
    const kind = options.endpoint.kind
    const source = this.factories[kind]
    if (typeof source === 'function') return source(options)
    let factory = this.loaded.get(kind)
    if (factory === undefined) {
      factory = source.load()
      this.loaded.set(kind, factory)
      // A failed load (a broken install) is reported to this caller and tried again by the next one.
      factory.catch(() => this.loaded.delete(kind))
    }
    return (await factory)(options)
  }
}

export function defaultAdapterRegistry(): AdapterRegistry {
  return new AdapterRegistry({
    linux: { load: async () => (await import('./linux/linux-adapter')).createLinuxAdapter },
    hyperv: { load: async () => (await import('./hyperv/hyperv-adapter')).createHyperVAdapter },
    xenserver: { load: async () => (await import('./xenserver/xenserver-adapter')).createXenServerAdapter },
  })
}
