import { describe, expect, it } from 'vitest'
import type { HostInventoryDto, PointSummaryDto } from '../../../engine/api/contract'
import { protection } from './protection'

const vm = (id: string) => ({ id, name: id, hostId: 'h', host: 'h', powerState: 'running' as const, disks: [], snapshots: [] })
const host: HostInventoryDto = { hostId: 'h', revision: 1, name: 'kvm01', kind: 'linux', status: 'online', physicalHosts: [], vms: [vm('a'), vm('b'), vm('c')] }
const point = (vmId: string, finishedAt: string) => ({ vm: { id: vmId, name: vmId }, finishedAt }) as PointSummaryDto

describe('protection', () => {
  it('puts VMs without a recent backup first', () => {
    const now = Date.parse('2026-11-21T12:00:00Z')
    const result = protection([host], [point('a', '2026-11-21T02:00:00Z'), point('b', '2026-11-10T02:00:00Z'), point('a', '2026-11-20T02:00:00Z')], 2, now)
    expect(result.map((r) => [r.vmId, r.stale, r.lastBackup])).toEqual([
      ['c', true, undefined],
      ['b', true, '2026-11-10T02:00:00Z'],
      ['a', false, '2026-11-21T02:00:00Z'],
    ])
  })
})
