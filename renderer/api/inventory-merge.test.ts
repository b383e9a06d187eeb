import { describe, expect, it } from 'vitest'
import type { HostInventoryDto } from '../../engine/api/contract'
import { mergeFetchedTree, mergeHostEvent } from './inventory-merge'

const host = (hostId: string, revision: number, status: HostInventoryDto['status']): HostInventoryDto => ({
  hostId,
  revision,
  name: hostId,
  kind: 'linux',
  status,
  physicalHosts: [],
  vms: [],
})

describe('inventory cache merging', () => {
  it('keeps a newer event over an older fetch that arrives later', () => {
    const afterEvent = mergeHostEvent({ hosts: [host('a', 1, 'connecting')] }, host('a', 5, 'online'))
    const afterLateFetch = mergeFetchedTree(afterEvent, { hosts: [host('a', 2, 'connecting'), host('b', 3, 'online')] })
    expect(afterLateFetch.hosts.map((h) => [h.hostId, h.status])).toEqual([
      ['a', 'online'],
      ['b', 'online'],
    ])
  })

  it('lets the fetch decide which hosts exist, and ignores stale events', () => {
    expect(mergeFetchedTree({ hosts: [host('gone', 9, 'online')] }, { hosts: [] }).hosts).toEqual([])
    const tree = { hosts: [host('a', 7, 'error')] }
    expect(mergeHostEvent(tree, host('a', 6, 'online'))).toBe(tree)
    expect(mergeHostEvent(tree, host('c', 1, 'online')).hosts).toHaveLength(2)
  })
})
