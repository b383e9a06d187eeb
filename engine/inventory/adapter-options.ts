import type { AdapterOptions, HostSecret } from '../../adapters/host-adapter'
import type { SavedHost } from '../state/hosts-store'

type EndpointFields = Pick<SavedHost, 'kind' | 'address' | 'port' | 'user'>

/** Options for an adapter of a saved (or about to be saved) host. `pinned` undefined means "not confirmed yet". */
export function adapterOptionsFor(host: EndpointFields, secret: HostSecret, pinned: string | undefined, connectTimeoutMs?: number): AdapterOptions {
  return {
    endpoint: { kind: host.kind, address: host.address, port: host.port, user: host.user },
    secret,
    ...(pinned !== undefined ? { pinnedFingerprint: pinned } : {}),
    ...(connectTimeoutMs !== undefined ? { connectTimeoutMs } : {}),
  }
}
