import { randomBytes } from 'node:crypto'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { EventBus } from '../common/event-bus'
import { BufferSource } from '../disks/buffer-source'
import { JobRunner } from '../jobs/job-runner'
import { JobStore } from '../jobs/job-store'
import { Repositories } from '../repository-access/repositories'
import { tryHoldLock } from '../state/file-lock'
import { fileCodec, SecretStore } from '../state/secret-store'
import { PlansStore } from './plans-store'
import { Scheduler } from './scheduler'
import { ApiError } from '../api/contract-errors'
import type { BackupRequest } from '../jobs/backup-job'
import type { StartBackup } from '../jobs/start-backup'
import type { PointCheckDto } from '../api/contract-checks'
import { writeFile } from 'node:fs/promises'
import type { CheckRequest, StartCheck } from './plan-check'
import type { NotifyEvent } from '../notify/events'
import type { NotifyService } from '../notify/notify-service'
import type { VmBackupStatus } from '../notify/stale-check'

describe('Scheduler', () => {
  let dir: string
  let clock: Date
  let jobs: JobRunner
  let repositories: Repositories
  let started: BackupRequest[]
  let failVm: string | undefined
  let checks: CheckRequest[]
  /** How the fake health check of a point ends, by the VM the point is of. */
  let checkOutcome: (vm: string) => 'booted' | 'failed' | 'error' | 'hang'

  /** Stands in for backup.start: backs up 4 MiB of random data for the VM into the real repository. */
  const startBackup: StartBackup = (input) => {
    started.push(input)
    if (input.vm === failVm) return Promise.reject(new ApiError('HOST_UNREACHABLE', 'web02 cannot be reached.'))
    const job = jobs.start({
      kind: 'backup',
      title: `Back up ${input.vm}`,
      run: async () => {
        const repo = await repositories.open({})
        try {
          return await repo.ingest({
            vm: { id: input.vm, name: input.vm, config: null },
            sourceHost: { name: input.host },
            mode: 'hot',
            consistency: 'crash',
            disks: [{ name: 'disk0', source: new BufferSource(randomBytes(4 << 20), 'disk0') }],
          })
        } finally {
          await repo.close()
        }
      },
    })
    return Promise.resolve({ jobId: job.id })
  }

  /** Stands in for points.check (the real one boots a VM: point-check.test.ts): a job whose verdict the test picks. */
  const startCheck: StartCheck = (input) => {
    checks.push(input)
    const job = jobs.start({
      kind: 'points.check',
      title: `Health check of ${input.point}`,
      run: async (ctx) => {
        const repo = await repositories.open({})
        const vm = (await repo.getPoint(input.point)).vm.name
        await repo.close()
        const outcome = checkOutcome(vm)
        if (outcome === 'hang' && !ctx.signal.aborted) await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }))
        if (outcome === 'error' || ctx.signal.aborted) throw new ApiError(ctx.signal.aborted ? 'CANCELLED' : 'HOST_UNREACHABLE', ctx.signal.aborted ? 'Cancelled.' : 'kvm1 cannot be reached.')
        const check: PointCheckDto = {
          pointId: input.point,
          repositoryId: 'r',
          jobId: ctx.jobId,
          host: { id: input.host, name: input.host },
          checkedAt: clock.toISOString(),
          verdict: outcome === 'booted' ? 'booted' : 'failed',
          summary: outcome === 'booted' ? 'Booted — the guest agent answered after 14 s' : 'Failed — the disk has no bootable system',
          reason: '',
          timings: { restoreMs: 1, bootMs: 1, proofMs: 1, totalMs: 3 },
        }
        return check
      },
    })
    return Promise.resolve({ jobId: job.id })
  }

  const make = () =>
    new Scheduler({ store: new PlansStore(path.join(dir, 'plans.json')), jobs, repositories, startBackup, startCheck, lockDir: dir, now: () => clock })

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lb-sched-'))
    clock = new Date('2026-11-16T12:00:00')
    jobs = new JobRunner({ store: new JobStore(path.join(dir, 'jobs')), events: new EventBus() })
    repositories = new Repositories({ defaultPath: path.join(dir, 'repository'), secrets: new SecretStore(path.join(dir, 'secrets.json'), fileCodec) })
    started = []
    failVm = undefined
    checks = []
    checkOutcome = () => 'booted'
  })
  afterEach(async () => jobs.cancelAll())

  const plan = {
    name: 'Nightly',
    targets: [
      { host: 'h1', vm: 'web01', vmName: 'web01', hostName: 'host one' },
      { host: 'h1', vm: 'web02' },
    ],
    mode: 'hot' as const,
    schedule: { kind: 'daily' as const, time: '02:00' },
    retention: { keepLast: 1 },
    concurrency: 2,
  }

  it('previews the next runs and catches up missed runs once, saying so', async () => {
    const s = make()
    const saved = await s.save(plan)
    expect(saved.status.nextRuns.map((r) => new Date(r).getHours())).toEqual([2, 2, 2])
    clock = new Date('2026-11-19T09:00:00') // three 02:00 slots passed while nothing ran
    const due = await s.runDue()
    expect(due.started).toHaveLength(1)
    expect(due.started[0]?.missedRuns).toBe(2)
    const job = await jobs.waitFor(due.started[0]!.jobId)
    expect(job.state).toBe('succeeded')
    expect(job.log.some((l) => l.level === 'warn' && l.message.includes('2 scheduled run(s)'))).toBe(true)
    expect(job.steps.map((st) => [st.label, st.state])).toEqual([
      ['web01 on host one', 'done'],
      ['web02 on h1', 'done'],
    ])
    const [view] = await s.list()
    expect(view?.status).toMatchObject({ lastResult: 'succeeded', missedRuns: 2, running: false })
    expect((await s.runDue()).started).toHaveLength(0)
  })

  it('never runs a plan twice at once (another Lifeboat process holds it)', async () => {
    const s = make()
    const { plan: saved } = await s.save(plan)
    const release = await tryHoldLock(path.join(dir, `plan-${saved.id}.lock`))
    expect(release).toBeDefined()
    await expect(s.runNow('nightly')).rejects.toMatchObject({ code: 'STATE_BUSY' })
    clock = new Date('2026-11-17T03:00:00')
    expect(await s.runDue()).toMatchObject({ started: [], skipped: [{ planId: saved.id }] })
    expect((await s.list())[0]?.status.running).toBe(true)
    await release?.()
    expect((await s.runDue()).started).toHaveLength(1)
  })

  it('applies the plan retention to its own VMs only, and reports a partial failure', async () => {
    const s = make()
    const other = await repositories.open({})
    await other.ingest({ vm: { id: 'db01', name: 'db01', config: null }, sourceHost: { name: 'h2' }, mode: 'hot', consistency: 'crash', disks: [{ name: 'disk0', source: new BufferSource(randomBytes(1 << 20), 'd') }] })
    await other.ingest({ vm: { id: 'db01', name: 'db01', config: null }, sourceHost: { name: 'h2' }, mode: 'hot', consistency: 'crash', disks: [{ name: 'disk0', source: new BufferSource(randomBytes(1 << 20), 'd') }] })
    await other.close()
    await s.save(plan)
    for (let i = 0; i < 2; i++) expect((await jobs.waitFor((await s.runNow('Nightly')).jobId)).state).toBe('succeeded')
    const repo = await repositories.open({})
    const points = await repo.listPoints()
    await repo.close()
    const count = (vm: string) => points.filter((p) => p.vm.id === vm).length
    expect([count('web01'), count('web02'), count('db01')]).toEqual([1, 1, 2])

    failVm = 'web02'
    const failed = await jobs.waitFor((await s.runNow('Nightly')).jobId)
    expect(failed.state).toBe('failed')
    expect(failed.error?.message).toContain('1 of 2 VM backups failed: web02: web02 cannot be reached.')
    expect((await s.list())[0]?.status.lastResult).toBe('partial')
  })

  it('refuses a bad schedule and a duplicate name', async () => {
    const s = make()
    await expect(s.save({ ...plan, schedule: { kind: 'cron', expression: '61 * * * *' } })).rejects.toThrow(/outside/)
    await s.save(plan)
    await expect(s.save({ ...plan, name: 'NIGHTLY' })).rejects.toMatchObject({ code: 'INVALID_INPUT' })
  })

  const checked = { ...plan, check: { host: 'kvm1', hostName: 'KVM one', timeoutSec: 120 } }

  it('checks that the new points boot after a successful run: verdict on the run and in the plan status', async () => {
    const s = make()
    const { plan: saved } = await s.save(checked)
    expect(saved.check).toEqual({ host: 'kvm1', hostName: 'KVM one', timeoutSec: 120 })
    const job = await jobs.waitFor((await s.runNow('Nightly')).jobId)
    expect(job.state).toBe('succeeded')
    const result = job.result as { pointIds: string[]; check: { verdict: string; summary: string; pointIds: string[]; jobIds: string[] } }
    expect(checks.map((c) => [c.host, c.timeoutSec])).toEqual([['kvm1', 120], ['kvm1', 120]])
    expect(checks.map((c) => c.point).sort()).toEqual([...result.pointIds].sort())
    expect(result.check.verdict).toBe('booted')
    expect(result.check.summary).toMatch(/^web0[12]: Booted — the guest agent answered after 14 s; web0[12]: Booted/)
    expect(job.steps.at(-1)).toMatchObject({ id: 'check', label: 'Check that the new restore points boot on KVM one', state: 'done' })
    const [view] = await s.list()
    expect(view?.status).toMatchObject({ lastResult: 'succeeded', lastCheck: { verdict: 'booted', jobIds: result.check.jobIds } })
  })

  it('a point that does not boot makes the run "backed up, but did not boot", not a failed backup', async () => {
    const s = make()
    await s.save(checked)
    checkOutcome = (vm) => (vm === 'web02' ? 'failed' : 'booted')
    const job = await jobs.waitFor((await s.runNow('Nightly')).jobId)
    expect(job.state).toBe('succeeded')
    expect(job.steps.at(-1)).toMatchObject({ id: 'check', state: 'failed' })
    expect(job.log.some((l) => l.level === 'warn' && l.message.startsWith('Backed up, but did not boot:') && l.message.includes('web02: Failed — the disk has no bootable system'))).toBe(true)
    const [view] = await s.list()
    expect(view?.status.lastResult).toBe('succeeded')
    expect(view?.status.lastCheck?.verdict).toBe('failed')

    checkOutcome = () => 'error'
    const noVerdict = await jobs.waitFor((await s.runNow('Nightly')).jobId)
    expect(noVerdict.state).toBe('succeeded')
    expect((await s.list())[0]?.status.lastCheck).toMatchObject({ verdict: 'error', summary: expect.stringContaining('the check could not run: kvm1 cannot be reached.') as unknown })

    // A run that did not back up every VM checks nothing, and its status carries no stale verdict.
    failVm = 'web02'
    checks = []
    expect((await jobs.waitFor((await s.runNow('Nightly')).jobId)).state).toBe('failed')
    expect(checks).toEqual([])
    expect((await s.list())[0]?.status.lastCheck).toBeUndefined()
  })

  it('cancelling the run during the check cancels the check job too', async () => {
    const s = make()
    await s.save(checked)
    checkOutcome = () => 'hang'
    const { jobId } = await s.runNow('Nightly')
    const checkJob = async () => (await jobs.list(10)).find((j) => j.kind === 'points.check')
    for (let i = 0; i < 1000 && (await checkJob())?.state !== 'running'; i++) await new Promise((r) => setTimeout(r, 50))
    expect(checks).toHaveLength(1)
    await jobs.cancel(jobId)
    const run = await jobs.waitFor(jobId)
    expect(run.state).toBe('cancelled')
    const check = await jobs.waitFor((await checkJob())?.id ?? 'none')
    expect(check.state).toBe('cancelled')
    expect((await s.list())[0]?.status.lastResult).toBe('cancelled')
  })

  it('alerts: a failed run, a skipped run, and every protected VM with its newest point for the "no backup" check', async () => {
    const events: NotifyEvent[] = []
    const looks: (readonly VmBackupStatus[])[] = []
    const fake = {
      config: { dto: () => Promise.resolve({ staleHours: 26 }) },
      event: (e: NotifyEvent) => {
        events.push(e)
        return Promise.resolve([])
      },
      checkStaleVms: (vms: readonly VmBackupStatus[]) => {
        looks.push(vms)
        return Promise.resolve([])
      },
      dailySummaryIfDue: () => Promise.resolve(false),
    }
    const s = new Scheduler({ store: new PlansStore(path.join(dir, 'plans.json')), jobs, repositories, startBackup, startCheck, lockDir: dir, now: () => clock, notify: fake as unknown as NotifyService })
    const { plan: saved } = await s.save(plan)
    failVm = 'web02'
    expect((await jobs.waitFor((await s.runNow('Nightly')).jobId)).state).toBe('failed')
    await s.alertsSent()
    expect(events).toEqual([expect.objectContaining({ kind: 'run-failed', plan: 'Nightly', error: expect.stringContaining('web02 cannot be reached') })])

    const release = await tryHoldLock(path.join(dir, `plan-${saved.id}.lock`))
    clock = new Date('2026-11-17T03:00:00')
    await s.runDue()
    await release?.()
    await s.alertsSent()
    expect(events[1]).toMatchObject({ kind: 'run-skipped', plan: 'Nightly', reason: expect.stringContaining('still running') })
    const web01 = looks[0]?.find((v) => v.vm === 'web01')
    expect(web01).toMatchObject({ key: 'h1/web01', host: 'host one', protectedSince: saved.createdAt })
    expect(web01?.lastSuccessAt).toBeDefined()
    expect(looks[0]?.find((v) => v.key === 'h1/web02')).toEqual({ key: 'h1/web02', vm: 'web02', host: 'h1', protectedSince: saved.createdAt })
    // The running app looks again only after the interval, not on every 30-second tick.
    await s.runDue()
    expect(looks).toHaveLength(1)
  })

  const weekly = { ...plan, schedule: { kind: 'manual' as const }, check: { host: 'kvm1', hostName: 'KVM one', timeoutSec: 120, schedule: { kind: 'weekly' as const, days: [0], time: '03:00' } } }

  it('checks on its own schedule, not after runs: the newest point of each VM, missed slots caught up once', async () => {
    const s = make()
    const saved = await s.save(weekly)
    expect(saved.plan.check?.schedule).toEqual({ kind: 'weekly', days: [0], time: '03:00' })
    expect(saved.status.nextChecks?.map((d) => new Date(d).toString().slice(0, 21))).toEqual(['Sun Nov 22 2026 03:00', 'Sun Nov 29 2026 03:00', 'Sun Dec 06 2026 03:00'])
    const runs = []
    for (let i = 0; i < 2; i++) runs.push(await jobs.waitFor((await s.runNow('Nightly')).jobId))
    expect(runs.map((r) => r.steps.map((st) => st.id))).toEqual([['vm-0', 'vm-1'], ['vm-0', 'vm-1']])
    expect(checks).toEqual([])
    expect(await s.runDue()).toMatchObject({ started: [], checks: [] })

    clock = new Date('2026-11-22T03:30:00')
    const due = await s.runDue()
    expect(due.started).toEqual([])
    expect(due.checks).toHaveLength(1)
    const job = await jobs.waitFor(due.checks[0]!.jobId)
    expect(job).toMatchObject({ kind: 'plan.check', state: 'succeeded', title: 'Boot check of plan "Nightly"' })
    const newest = (runs.at(-1)?.result as { pointIds: string[] }).pointIds
    expect(checks.map((c) => c.point).sort()).toEqual([...newest].sort())
    expect(checks.every((c) => c.host === 'kvm1' && c.timeoutSec === 120)).toBe(true)
    expect(job.result).toMatchObject({ check: { verdict: 'booted', pointIds: expect.arrayContaining(newest) as unknown } })
    expect((await s.list())[0]?.status).toMatchObject({ lastCheck: { verdict: 'booted' }, checking: false })
    expect((await s.runDue()).checks).toEqual([])

    // A run in between keeps the scheduled verdict: it belongs to the check, not to the run.
    expect((await jobs.waitFor((await s.runNow('Nightly')).jobId)).state).toBe('succeeded')
    expect((await s.list())[0]?.status.lastCheck?.verdict).toBe('booted')

    clock = new Date('2026-12-06T09:00:00') // two Sunday slots passed
    checks = []
    const late = await s.runDue()
    expect(late.checks).toHaveLength(1)
    await jobs.waitFor(late.checks[0]!.jobId)
    expect(checks).toHaveLength(2)
    expect((await s.runDue()).checks).toEqual([])
  })

  it('never runs two checks of one plan at once, and a failed scheduled check raises the check-failed alert', async () => {
    const events: NotifyEvent[] = []
    const fake = {
      config: { dto: () => Promise.resolve({ staleHours: 26 }) },
      event: (e: NotifyEvent) => {
        events.push(e)
        return Promise.resolve([])
      },
      checkStaleVms: () => Promise.resolve([]),
      dailySummaryIfDue: () => Promise.resolve(false),
    }
    const s = new Scheduler({ store: new PlansStore(path.join(dir, 'plans.json')), jobs, repositories, startBackup, startCheck, lockDir: dir, now: () => clock, notify: fake as unknown as NotifyService })
    const { plan: saved } = await s.save(weekly)
    await jobs.waitFor((await s.runNow('Nightly')).jobId)
    checkOutcome = () => 'hang'
    clock = new Date('2026-11-22T03:01:00')
    const first = await s.runDue()
    expect(first.checks).toHaveLength(1)
    for (let i = 0; i < 200 && checks.length === 0; i++) await new Promise((r) => setTimeout(r, 25))
    expect((await s.list())[0]?.status.checking).toBe(true)
    clock = new Date('2026-11-29T03:01:00')
    const second = await s.runDue()
    expect(second).toMatchObject({ checks: [], skipped: [{ planId: saved.id, reason: expect.stringContaining('boot check is still running') as unknown }] })
    expect(checks).toHaveLength(1)
    await jobs.cancel(first.checks[0]!.jobId)
    expect((await jobs.waitFor(first.checks[0]!.jobId)).state).toBe('cancelled')
    expect((await s.list())[0]?.status.checking).toBe(false)

    checkOutcome = (vm) => (vm === 'web02' ? 'failed' : 'booted')
    clock = new Date('2026-12-06T03:01:00')
    const third = await s.runDue()
    expect(third.checks).toHaveLength(1)
    const job = await jobs.waitFor(third.checks[0]!.jobId)
    expect(job.state).toBe('succeeded')
    expect(job.steps).toMatchObject([{ id: 'check', state: 'failed' }])
    await s.alertsSent()
    expect(events).toContainEqual(expect.objectContaining({ kind: 'check-failed', reason: expect.stringContaining('web02: Failed — the disk has no bootable system') as unknown }))
    expect((await s.list())[0]?.status.lastCheck?.verdict).toBe('failed')
  })

  it('a scheduled check says which VMs have no point yet, and refuses a "manual" check schedule', async () => {
    const s = make()
    await expect(s.save({ ...weekly, check: { ...weekly.check, schedule: { kind: 'manual' } } })).rejects.toMatchObject({ code: 'INVALID_INPUT', params: { field: 'checkSchedule' } })
    await expect(s.save({ ...weekly, check: { ...weekly.check, schedule: { kind: 'cron', expression: '0 3 * * 8x' } } })).rejects.toMatchObject({ code: 'INVALID_INPUT', params: { field: 'checkSchedule' } })
    await s.save(weekly)
    clock = new Date('2026-11-22T03:01:00')
    const none = await jobs.waitFor((await s.runDue()).checks[0]!.jobId)
    expect(none.result).toMatchObject({ check: { verdict: 'error', summary: 'web01: no restore point to check yet; web02: no restore point to check yet' } })
    expect(checks).toEqual([])
  })

  it('loads a plans file written before the check option existed, and runs its plans without a check', async () => {
    const file = path.join(dir, 'plans.json')
    const old = { id: 'p1', name: 'Old', enabled: true, targets: [{ host: 'h1', vm: 'web01' }], mode: 'hot', options: { quiesce: true, requireQuiesce: false, shutdownTimeoutSec: 300, forceOffAfterTimeout: false, incremental: true }, schedule: { kind: 'manual' }, concurrency: 1, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z' }
    await writeFile(file, JSON.stringify({ version: 1, plans: [old], state: { p1: { missedRuns: 0, lastResult: 'succeeded' } } }))
    const s = make()
    const [view] = await s.list()
    expect(view?.plan.check).toBeUndefined()
    const job = await jobs.waitFor((await s.runNow('Old')).jobId)
    expect(job.state).toBe('succeeded')
    expect(job.steps.map((st) => st.id)).toEqual(['vm-0'])
    expect(checks).toEqual([])
  })
})
