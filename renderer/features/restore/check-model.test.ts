import { describe, expect, it } from 'vitest'
import type { HostDto } from '../../../engine/api/contract'
import { checkHostChoices, timeoutSeconds } from './check-model'

const host = (id: string, kind: HostDto['kind']): HostDto => ({ id, kind, name: id, address: `${id}.lan`, port: 22, user: 'root', authType: 'key', fingerprint: '', fingerprintType: '', addedAt: '' })

describe('health-check host choice', () => {
  const hosts = [host('xen1', 'xenserver'), host('kvm1', 'linux'), host('hv1', 'hyperv'), host('kvm2', 'linux')]

  it('defaults to the point\'s own host, offers hosts of the point\'s kind, and lists the others with why they cannot', () => {
    const { choices, preferred } = checkHostChoices(hosts, { sourceHost: { id: 'kvm2', name: 'kvm2', kind: 'linux' } })
    expect(preferred?.id).toBe('kvm2')
    expect(choices.map((c) => [c.host.id, c.canCheck, c.why])).toEqual([['kvm1', true, undefined], ['kvm2', true, undefined], ['xen1', false, 'other-kind'], ['hv1', false, 'other-kind']])
    expect(checkHostChoices(hosts, { sourceHost: { id: 'xen1', name: 'xen1', kind: 'xenserver' } }).preferred?.id).toBe('xen1')
    expect(checkHostChoices(hosts, { sourceHost: { id: 'hv1', name: 'hv1', kind: 'hyperv' } }).preferred?.id).toBe('hv1')
  })

  it('falls back to another host of the same kind when the point\'s own is gone, and to none when there is none', () => {
    expect(checkHostChoices(hosts, { sourceHost: { id: 'gone', name: 'gone', kind: 'linux' } }).preferred?.id).toBe('kvm1')
    const none = checkHostChoices([host('xen1', 'xenserver')], { sourceHost: { id: 'kvm9', name: 'kvm9', kind: 'linux' } })
    expect(none.preferred).toBeUndefined()
    expect(none.choices.map((c) => [c.canCheck, c.why])).toEqual([[false, 'other-kind']])
  })

  it('takes whole minutes from 1 to 1440 only', () => {
    expect(['10', ' 1 ', '1440', '0', '1441', '2.5', '', 'ten'].map(timeoutSeconds)).toEqual([600, 60, 86400, undefined, undefined, undefined, undefined, undefined])
  })
})
