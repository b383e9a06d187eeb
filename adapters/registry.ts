import type { AdapterFactory, AdapterOptions, HostAdapter, HostKind } from './host-adapter'
import { createHyperVAdapter } from './hyperv/hyperv-adapter'
import { createLinuxAdapter } from './linux/linux-adapter'
import { createXenServerAdapter } from './xenserver/xenserver-adapter'

/** Picks the adapter for a host's kind. Tests pass their own factories; the app uses the defaults. */
export class AdapterRegistry {
  constructor(private readonly factories: Readonly<Record<HostKind, AdapterFactory>>) {}

  create(options: AdapterOptions): HostAdapter {
    return this.factories[options.endpoint.kind](options)
  }
}

export function defaultAdapterRegistry(): AdapterRegistry {
  return new AdapterRegistry({ linux: createLinuxAdapter, hyperv: createHyperVAdapter, xenserver: createXenServerAdapter })
}
