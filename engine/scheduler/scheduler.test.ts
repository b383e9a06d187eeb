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

describe('Scheduler', () => {
  let dir: string
  let clock: Date
  let jobs: JobRunner
  let repositories: Repositories
  let started: BackupRequest[]
  let failVm: string | undefined

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

  const make = () =>
    new Scheduler({ store: new PlansStore(path.join(dir, 'plans.json')), jobs, repositories, startBackup, lockDir: dir, now: () => clock })

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lb-sched-'))
    clock = new Date('2026-11-16T12:00:00')
    jobs = new JobRunner({ store: new JobStore(path.join(dir, 'jobs')), events: new EventBus() })
    repositories = new Repositories({ defaultPath: path.join(dir, 'repository'), secrets: new SecretStore(path.join(dir, 'secrets.json'), fileCodec) })
    started = []
    failVm = undefined
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
})
