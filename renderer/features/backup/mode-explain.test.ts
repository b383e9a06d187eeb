import { describe, expect, it } from 'vitest'
import type { HostInventoryDto } from '../../../engine/api/contract'
import { explainMode } from './mode-explain'

const vm = (id: string, powerState: HostInventoryDto['vms'][number]['powerState']): HostInventoryDto['vms'][number] => ({ id, name: id, powerState, disks: [], snapshots: [] }) as unknown as HostInventoryDto['vms'][number]
const host = (hostId: string, kind: HostInventoryDto['kind'], vms: HostInventoryDto['vms']): HostInventoryDto => ({ hostId, name: hostId, kind, status: 'online', vms }) as unknown as HostInventoryDto
const hosts = [host('pool', 'xenserver', [vm('web01', 'running'), vm('db01', 'halted')]), host('hv', 'hyperv', [vm('sql', 'running'), vm('files', 'suspended')]), host('kvm', 'linux', [vm('mail', 'running')])]
const target = (h: string, v: string) => ({ host: h, vm: v, hostName: h, vmName: v })

describe('mode explanations', () => {
  it('say how the VM’s own host does it, with its name', () => {
    expect(explainMode('hot', [target('pool', 'web01')], hosts)).toEqual({ key: 'wizard.explain.xenserver.hot', params: { vm: 'web01' } })
    expect(explainMode('warm', [target('hv', 'sql')], hosts)).toEqual({ key: 'wizard.explain.hyperv.warm', params: { vm: 'sql' } })
  })

  it('say that a VM that is off or suspended is copied as it is, whatever the mode', () => {
    for (const mode of ['hot', 'warm', 'cold'] as const) expect(explainMode(mode, [target('pool', 'db01')], hosts).key).toBe('wizard.explain.off')
    expect(explainMode('hot', [target('hv', 'files')], hosts)).toEqual({ key: 'wizard.explain.suspended', params: { vm: 'files' } })
  })

  it('stay general for several VMs, Linux hosts and VMs Lifeboat does not know', () => {
    expect(explainMode('cold', [target('pool', 'web01'), target('hv', 'sql')], hosts).key).toBe('wizard.mode.cold')
    expect(explainMode('hot', [target('kvm', 'mail')], hosts).key).toBe('wizard.mode.hot')
    expect(explainMode('hot', [target('pool', 'gone')], hosts).key).toBe('wizard.mode.hot')
  })
})
