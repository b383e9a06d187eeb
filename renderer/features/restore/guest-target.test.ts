import { describe, expect, it } from 'vitest'
import type { HostInventoryDto } from '../../../engine/api/contract'
import { guestTargetOf, suggestedGuestPath } from './guest-target'

const host = (kind: HostInventoryDto['kind'], powerState: 'running' | 'halted'): HostInventoryDto => ({
  hostId: 'h1',
  revision: 1,
  name: 'hv1',
  kind,
  status: 'online',
  physicalHosts: [],
  vms: [{ id: 'vm1', name: 'app01', hostId: 'h1', host: 'hv1', powerState, disks: [], snapshots: [] }],
})

describe('putting a file back into a running guest', () => {
  it('is offered for a running VM on a host that can copy into guests', () => {
    expect(guestTargetOf([host('hyperv', 'running')], { id: 'h1', name: 'hv1' }, { id: 'vm1', name: 'app01' })).toEqual({ host: 'h1', vm: 'vm1', vmName: 'app01', windows: true })
    expect(guestTargetOf([host('hyperv', 'halted')], { id: 'h1', name: 'hv1' }, { id: 'vm1', name: 'app01' })).toBeUndefined()
    expect(guestTargetOf([host('linux', 'running')], { id: 'h1', name: 'hv1' }, { id: 'vm1', name: 'app01' })).toEqual({ host: 'h1', vm: 'vm1', vmName: 'app01', windows: false })
    expect(guestTargetOf([host('xenserver', 'running')], { id: 'h1', name: 'hv1' }, { id: 'vm1', name: 'app01' })).toBeUndefined()
    expect(guestTargetOf([host('hyperv', 'running')], { id: 'other', name: 'x' }, { id: 'vm1', name: 'app01' })).toBeUndefined()
    expect(guestTargetOf(undefined, { name: 'hv1' }, { id: 'vm1', name: 'app01' })).toBeUndefined()
  })

  it('suggests the same place on C: under a new name, never the original file', () => {
    expect(suggestedGuestPath('/Users/anna/Documents/report.xlsx')).toBe('C:\\Users\\anna\\Documents\\report-restored.xlsx')
    expect(suggestedGuestPath('/hosts')).toBe('C:\\hosts-restored')
    expect(suggestedGuestPath('/.profile')).toBe('C:\\.profile-restored')
    expect(suggestedGuestPath('/reports/q3.csv', false)).toBe('/reports/q3-restored.csv')
  })
})
