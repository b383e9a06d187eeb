import { describe, expect, it } from 'vitest'
import type { HostDto, InstantRunDto, JobDto, PointSummaryDto } from '../../../engine/api/contract'
import { bannerRuns, changesRuns, defaultRunName, permanentJobOf, permanentRequestOf, reconnectedNow, runConnection, runNameProblem, runPlan, servingJobOf, unlistedReconnects } from './run-model'

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

describe('a run whose SSH connection was lost', () => {
  /** A serving job as the engine writes it: `try N` in the words from the second try on, and the same N in `attempt`. */
  const serving = (phase: string, detail: string | undefined, over: Partial<JobDto> = {}, attempt?: number): JobDto => ({
    ...job('job-web', 'points.run', 'running', undefined, phase),
    hostId: 'kvm1',
    progress: { phase, bytesDone: 0, ...(detail !== undefined ? { detail } : {}), ...(attempt !== undefined ? { attempt } : {}) },
    ...over,
  })

  it('reads the phase of its serving job: reconnecting with the try of its attempt field, served again, or nothing to say', () => {
    expect(runConnection(serving('reconnecting', 'web: reconnecting to kvm1', {}, 1))).toEqual({ state: 'reconnecting', attempt: 1 })
    expect(runConnection(serving('reconnecting', 'web: reconnecting to kvm1 (try 3)', {}, 3))).toEqual({ state: 'reconnecting', attempt: 3 })
    // The field, not the words: other wording (or none) changes nothing.
    expect(runConnection(serving('reconnecting', 'web: reconnecting to kvm1, 4th try', {}, 4))).toEqual({ state: 'reconnecting', attempt: 4 })
    expect(runConnection(serving('reconnecting', undefined, {}, 7))).toEqual({ state: 'reconnecting', attempt: 7 })
    // A job recorded by an older Lifeboat has no field: it reads as the first try, whatever its words say.
    expect(runConnection(serving('reconnecting', 'web: reconnecting to kvm1 (try 3)'))).toEqual({ state: 'reconnecting', attempt: 1 })
    expect(runConnection(serving('reconnecting', undefined))).toEqual({ state: 'reconnecting', attempt: 1 })
    // A figure that is no try number (the wire is not trusted) reads as the first try; the phase still decides.
    for (const bad of [0, -2, 1.5, Number.NaN, 2 ** 60]) expect(runConnection(serving('reconnecting', 'web: reconnecting to kvm1', {}, bad))).toEqual({ state: 'reconnecting', attempt: 1 })
    expect(runConnection(serving('running', 'web'))).toEqual({ state: 'served' })
    expect(runConnection(serving('start', 'serve: listening on /run/lifeboat-run.x for QEMU'))).toBeUndefined()
    // An ended job serves nothing, whatever phase it was last in; neither does another kind of job.
    expect(runConnection(serving('reconnecting', 'web: reconnecting to kvm1 (try 2)', { state: 'cancelled' }, 2))).toBeUndefined()
    expect(runConnection(serving('reconnecting', 'web: reconnecting to kvm1 (try 2)', { state: 'cancelling' }, 2))).toEqual({ state: 'reconnecting', attempt: 2 })
    expect(runConnection({ ...serving('reconnecting', 'x'), kind: 'runs.makePermanent' })).toBeUndefined()
    expect(runConnection(undefined)).toBeUndefined()
  })

  it('says "reconnected" only when a reconnecting run is served again, not when a run starts serving', () => {
    expect(reconnectedNow('reconnecting', 'served')).toBe(true)
    expect(reconnectedNow(undefined, 'served')).toBe(false)
    expect(reconnectedNow('served', 'served')).toBe(false)
    expect(reconnectedNow('reconnecting', 'reconnecting')).toBe(false)
    // Cancelled while reconnecting: the job ends, nothing was reconnected.
    expect(reconnectedNow('reconnecting', undefined)).toBe(false)
  })

  it('finds the job serving a run: the one that started it, or one serving it again (another id) by host and VM name', () => {
    const kvm1 = { id: 'kvm1', name: 'kvm1' }
    const started = serving('reconnecting', 'web: reconnecting to kvm1 (try 2)')
    expect(servingJobOf([started], run('web'), kvm1)?.id).toBe('job-web')
    const resumed = serving('reconnecting', 'web: reconnecting to kvm1 (try 4)', { id: 'job-resume' })
    const ended = { ...serving('running', 'web'), state: 'cancelled' as const }
    expect(servingJobOf([ended, resumed], run('web'), kvm1)?.id).toBe('job-resume')
    expect(servingJobOf([{ ...serving('running', 'web'), id: 'job-resume' }], run('web'), kvm1)?.id).toBe('job-resume')
    // Not another VM whose name begins the same, nor the same name on another host, nor an ended job of another id.
    expect(servingJobOf([{ ...resumed, progress: { phase: 'reconnecting', bytesDone: 0, detail: 'web: b: reconnecting to kvm1' } }], run('web'), kvm1)).toBeUndefined()
    expect(servingJobOf([{ ...resumed, progress: { phase: 'reconnecting', bytesDone: 0, detail: 'web: reconnecting to kvm1 (try 2) and more' } }], run('web'), kvm1)).toBeUndefined()
    expect(servingJobOf([{ ...resumed, hostId: 'kvm2' }], run('web'), kvm1)).toBeUndefined()
    expect(servingJobOf([{ ...resumed, state: 'failed' }], run('web'), kvm1)).toBeUndefined()
    expect(servingJobOf([resumed], run('web'))).toBeUndefined()
  })

  it('ties a job to its run by the progress `vm` when it has one, whatever its words say', () => {
    const kvm1 = { id: 'kvm1', name: 'kvm1' }
    const named = (vm: string, detail: string): JobDto => ({ ...serving('reconnecting', detail, { id: 'job-resume' }, 2), progress: { phase: 'reconnecting', bytesDone: 0, attempt: 2, vm, detail } })
    // Other words, the same VM: found (the detail alone would not name it).
    expect(servingJobOf([named('web', 'Verbindung zu kvm1 wird wiederhergestellt')], run('web'), kvm1)?.id).toBe('job-resume')
    // The words name "web" but the field names "web-2": not this run's job.
    expect(servingJobOf([named('web-2', 'web: reconnecting to kvm1 (try 2)')], run('web'), kvm1)).toBeUndefined()
    // Unlisted: the field's name, not one cut out of the words.
    expect(unlistedReconnects([named('db: x', 'anything')], [host('kvm1', 'linux')], []).map((u) => u.vm)).toEqual(['db: x'])
  })

  it('still shows a reconnecting run whose host could not be listed since a reload, named from its job when it can be', () => {
    const kvm1 = host('kvm1', 'linux')
    const listed = serving('reconnecting', 'web: reconnecting to kvm1 (try 2)')
    const other = serving('reconnecting', 'db: x: reconnecting to kvm1 (try 5)', { id: 'job-db' }, 5)
    const odd = serving('reconnecting', 'something else', { id: 'job-odd' }, 3)
    const elsewhere = serving('reconnecting', 'app: reconnecting to kvm9', { id: 'job-app', hostId: 'kvm9' })
    const rows = [{ host: kvm1, run: run('web') }]
    expect(unlistedReconnects([listed, other, odd, elsewhere, serving('running', 'mail', { id: 'job-mail' })], [kvm1], rows).map((u) => [u.job.id, u.vm, u.attempt])).toEqual([['job-db', 'db: x', 5], ['job-odd', undefined, 3]])
    expect(unlistedReconnects([listed], [kvm1], []).map((u) => u.vm)).toEqual(['web'])
  })
})
