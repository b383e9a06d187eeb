import { describe, expect, it } from 'vitest'
import type { HostInventoryDto, PointSummaryDto, VmDto } from '../../../engine/api/contract'
import { defaultRestoreName, inPlaceBlocker, originalVm, storageShortfall } from './restore-vm-model'

const point: PointSummaryDto = {
  id: 'p1',
  parentId: null,
  vm: { id: 'vm-uuid', name: 'web01' },
  sourceHost: { name: 'kvm1', kind: 'linux', id: 'h1' },
  mode: 'hot',
  consistency: 'crash',
  startedAt: '2026-11-20T10:00:00Z',
  finishedAt: '2026-11-20T10:05:00Z',
  disks: [{ name: 'vda', size: 1024 }],
  stats: { bytesRead: 0, bytesNew: 0, bytesStored: 0, chunksNew: 0, chunksReused: 0, chunksZero: 0, chunksFromParent: 0 },
}

function host(vms: Partial<VmDto>[], hostId = 'h1'): HostInventoryDto {
  return {
    hostId,
    revision: 1,
    name: 'kvm1',
    kind: 'linux',
    status: 'online',
    physicalHosts: [],
    vms: vms.map((v) => ({ id: 'x', name: 'x', hostId, host: 'kvm1', powerState: 'running', disks: [], snapshots: [], ...v })),
  }
}

describe('restoring a whole VM', () => {
  it('names the new VM after the original with a local time stamp', () => {
    expect(defaultRestoreName('web01', new Date(2026, 10, 2, 7, 5))).toBe('web01-restored-20261102-0705')
  })

  it('finds the original VM on its source host, to warn only when it runs', () => {
    expect(originalVm(point, [host([{ id: 'vm-uuid', name: 'web01', powerState: 'running' }])])?.powerState).toBe('running')
    expect(originalVm(point, [host([{ id: 'vm-uuid', name: 'web01', powerState: 'running' }], 'h2')])).toBeUndefined()
    expect(originalVm(point, [host([{ id: 'new-id', name: 'web01', powerState: 'halted' }])])?.powerState).toBe('halted')
  })

  it('offers overwriting only on the source host, for a VM that still exists and is shut off', () => {
    expect(inPlaceBlocker(point, undefined)).toBe('otherHost')
    expect(inPlaceBlocker(point, host([{ id: 'vm-uuid', name: 'web01', powerState: 'halted' }], 'h2'))).toBe('otherHost')
    expect(inPlaceBlocker(point, host([{ id: 'other', name: 'db01' }]))).toBe('gone')
    expect(inPlaceBlocker(point, host([{ id: 'vm-uuid', name: 'web01', powerState: 'running' }]))).toBe('running')
    expect(inPlaceBlocker(point, host([{ id: 'vm-uuid', name: 'web01', powerState: 'paused' }]))).toBe('paused')
    expect(inPlaceBlocker(point, host([{ id: 'vm-uuid', name: 'web01', powerState: 'suspended' }]))).toBe('suspended')
    expect(inPlaceBlocker(point, { ...host([{ id: 'vm-uuid', name: 'web01', powerState: 'suspended' }]), kind: 'hyperv' })).toBe('saved')
    expect(inPlaceBlocker(point, host([{ id: 'vm-uuid', name: 'web01', powerState: 'unknown' }]))).toBe('unknown')
    expect(inPlaceBlocker(point, host([{ id: 'vm-uuid', name: 'web01', powerState: 'halted' }]))).toBeUndefined()
    // A VM redefined under a new id is still found by its name.
    expect(inPlaceBlocker(point, host([{ id: 'new-id', name: 'web01', powerState: 'halted' }]))).toBeUndefined()
  })

  it('warns when the chosen storage reports less free space than the disks need', () => {
    const storage = [
      { id: 'sr1', name: 'Local', freeBytes: 500 },
      { id: 'sr2', name: 'NFS', freeBytes: 5000 },
      { id: 'sr3', name: 'Unknown' },
    ]
    expect(storageShortfall(storage, '', 1024)).toBe(false)
    expect(storageShortfall(storage, 'sr1', 1024)).toBe(true)
    expect(storageShortfall(storage, 'sr2', 1024)).toBe(false)
    expect(storageShortfall(storage, 'sr3', 1024)).toBe(false)
  })
})
