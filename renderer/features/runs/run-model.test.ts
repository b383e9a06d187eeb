import { describe, expect, it } from 'vitest'
import type { HostDto, InstantRunDto, JobDto, PointSummaryDto } from '../../../engine/api/contract'
import { bannerRuns, changesRuns, defaultRunName, permanentJobOf, permanentRequestOf, runNameProblem, runPlan } from './run-model'

const host = (id: string, kind: HostDto['kind']): HostDto => ({ id, kind, name: id, address: `${id}.lan`, port: 22, user: 'root', authType: 'key', fingerprint: '', fingerprintType: '', addedAt: '' })
const run = (name: string, over: Partial<InstantRunDto> = {}): InstantRunDto => ({ name, vmId: name, runId: `job-${name}`, pointId: 'p1', state: 'running', permanent: false, served: true, stalled: false, disks: [{ target: 'vda', overlay: `/var/lib/libvirt/images/${name}-vda.qcow2` }], ...over })
const job = (id: string, kind: string, state: JobDto['state'], createdAt = '2026-12-07T05:00:00Z', phase = 'copy'): JobDto => ({ id, kind, title: id, state, createdAt, progress: { phase, bytesDone: 0 }, steps: [], leftBehind: [] })

describe('where a point can run from the backup', () => {
  const hosts = [host('xen1', 'xenserver'), host('kvm1', 'linux'), host('hv1', 'hyperv'), host('kvm2', 'linux')]

  it('offers KVM hosts first, prefers the point\'s own host, and lists XenServer and Hyper-V hosts as unable', () => {
    const plan = runPlan(hosts, { sourceHost: { id: 'kvm2', name: 'kvm2', kind: 'linux' } })
    expect(plan.preferred?.id).toBe('kvm2')
    expect(plan.blocker).toBeUndefined()
    expect(plan.choices.map((c) => [c.host.id, c.canRun])).toEqual([['kvm1', true], ['kvm2', true], ['xen1', false], ['hv1', false]])
    expect(runPlan(hosts, { sourceHost: { id: 'gone', name: 'gone', kind: 'linux' } }).preferred?.id).toBe('kvm1')
  })

  it('says why not for XenServer and Hyper-V points, points of disk images, and when no KVM host is saved', () => {
    expect(runPlan(hosts, { sourceHost: { id: 'xen1', name: 'xen1', kind: 'xenserver' } }).blocker).toBe('xenserver')
    expect(runPlan(hosts, { sourceHost: { id: 'hv1', name: 'hv1', kind: 'hyperv' } }).blocker).toBe('hyperv')
    expect(runPlan(hosts, { sourceHost: { name: 'disk images', kind: 'file' } }).blocker).toBe('notVm')
    const none = runPlan([host('xen1', 'xenserver')], { sourceHost: { id: 'kvm9', name: 'kvm9', kind: 'linux' } })
    expect(none.blocker).toBe('noHost')
    expect(none.preferred).toBeUndefined()
  })
})

describe('the new VM\'s name', () => {
  const at = new Date(2026, 11, 7, 5, 9)

  it('defaults to a dated name that is never the original\'s and steps past names taken on the host', () => {
    expect(defaultRunName('web01', at, new Set(['web01']))).toBe('web01-from-backup-20261207-0509')
    expect(defaultRunName('web01', at, new Set(['web01-from-backup-20261207-0509', 'web01-from-backup-20261207-0509-2']))).toBe('web01-from-backup-20261207-0509-3')
  })

  it('makes a name the contract accepts out of a hostile VM name', () => {
    const name = defaultRunName(`a/b\nc${'x'.repeat(400)}`, at, new Set())
    expect(name).toMatch(/^a_b_cx+-from-backup-20261207-0509$/)
    expect(runNameProblem(name, new Set())).toBeUndefined()
  })

  it('says what is wrong with a typed name', () => {
    const taken = new Set(['web01'])
    expect(['', '  ', 'a/b', 'x\ny', 'web01', 'x'.repeat(201), 'web01-copy'].map((n) => runNameProblem(n, taken))).toEqual(['missing', 'missing', 'badChars', 'badChars', 'taken', 'tooLong', undefined])
  })
})

describe('the banner\'s runs', () => {
  it('shows runs still needing Lifeboat with the date of their point, and drops permanent ones', () => {
    const kvm1 = host('kvm1', 'linux')
    const point = { id: 'p1', finishedAt: '2026-12-06T22:00:00Z' } as PointSummaryDto
    const rows = bannerRuns([{ host: kvm1, runs: [run('b'), run('a', { permanent: true }), run('c', { pointId: 'unknown' })] }, { host: host('kvm2', 'linux'), runs: undefined }], [point])
    expect(rows.map((r) => [r.run.name, r.pointDate])).toEqual([['b', '2026-12-06T22:00:00Z'], ['c', undefined]])
  })

  it('ties a make-permanent job to its run by the request it keeps, newest first', () => {
    expect(permanentRequestOf('j1', { channel: 'runs.makePermanent', input: { host: 'kvm1', name: 'web' } })).toEqual({ jobId: 'j1', host: 'kvm1', name: 'web' })
    expect(permanentRequestOf('j1', { channel: 'points.run', input: { host: 'kvm1', name: 'web' } })).toBeUndefined()
    expect(permanentRequestOf('j1', { channel: 'runs.makePermanent', input: ['kvm1'] })).toBeUndefined()
    expect(permanentRequestOf('j1', undefined)).toBeUndefined()
    const jobs = [job('old', 'runs.makePermanent', 'failed', '2026-12-07T04:00:00Z'), job('new', 'runs.makePermanent', 'running'), job('other', 'runs.makePermanent', 'running')]
    const requests = [{ jobId: 'old', host: 'kvm1', name: 'web' }, { jobId: 'new', host: 'kvm1', name: 'web' }, { jobId: 'other', host: 'kvm2', name: 'web' }]
    expect(permanentJobOf(jobs, requests, 'kvm1', 'web')?.id).toBe('new')
    expect(permanentJobOf(jobs, requests, 'kvm1', 'db')).toBeUndefined()
  })

  it('asks the hosts again when a run starts serving or a run job ends, not on every byte of progress', () => {
    const serving = job('r', 'points.run', 'running', undefined, 'start')
    expect(changesRuns(undefined, serving)).toBe(true)
    expect(changesRuns(serving, { ...serving, progress: { phase: 'running', bytesDone: 0 } })).toBe(true)
    expect(changesRuns({ ...serving, progress: { phase: 'running', bytesDone: 0 } }, { ...serving, progress: { phase: 'running', bytesDone: 9 } })).toBe(false)
    expect(changesRuns(job('p', 'runs.makePermanent', 'running'), job('p', 'runs.makePermanent', 'succeeded'))).toBe(true)
    expect(changesRuns(undefined, job('b', 'backup', 'running'))).toBe(false)
  })
})
