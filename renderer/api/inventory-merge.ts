import type { HostInventoryDto, InventoryTree } from '../../engine/api/contract'

/**
 * Events and fetches can cross on the wire: a tree fetched a moment ago may arrive after a newer event. Each
 * host entry carries a revision, and the newer one wins. The fetched tree decides which hosts exist.
 */
export function mergeFetchedTree(cached: InventoryTree | undefined, fetched: InventoryTree): InventoryTree {
  if (!cached) return fetched
  const known = new Map(cached.hosts.map((h) => [h.hostId, h]))
  return {
    hosts: fetched.hosts.map((h) => {
      const mine = known.get(h.hostId)
      return mine !== undefined && mine.revision > h.revision ? mine : h
    }),
  }
}

export function mergeHostEvent(cached: InventoryTree | undefined, host: HostInventoryDto): InventoryTree {
  if (!cached) return { hosts: [host] }
  const existing = cached.hosts.find((h) => h.hostId === host.hostId)
  if (existing === undefined) return { hosts: [...cached.hosts, host] }
  if (existing.revision > host.revision) return cached
  return { hosts: cached.hosts.map((h) => (h.hostId === host.hostId ? host : h)) }
}
