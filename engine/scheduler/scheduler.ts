import { randomUUID } from 'node:crypto'
import path from 'node:path'
import { backupStart } from '../api/contract-backup'
import { ApiError } from '../api/contract-errors'
import { toApiError } from '../errors/to-api-error'
import type { Plan, PlanCheck, PlanCheckOutcome, PlanInput, PlanView } from '../api/contract-plans'
import { PlanInputSchema } from '../api/contract-plans'
import type { JobContext, JobRunner } from '../jobs/job-runner'
import type { Repositories } from '../repository-access/repositories'
import { lockHeld, tryHoldLock } from '../state/file-lock'
import { nextRuns, runsBetween } from './cron'
import type { PlansStore, PlanState } from './plans-store'
import { retryOf } from '../jobs/retry'
import type { StartBackup } from '../jobs/start-backup'
import { compileSchedule } from './schedule'
import { checkPlanPoints, type StartCheck } from './plan-check'
import { checkCron, scheduledCheckJob } from './check-schedule'
import { WATCH_INTERVAL_MS, watchPlans } from './plan-alerts'
import type { NotifyEvent } from '../notify/events'
import type { NotifyService } from '../notify/notify-service'
import type { CopyService } from '../copies/copy-service'

export interface SchedulerDeps {
  readonly store: PlansStore
  readonly jobs: JobRunner
  readonly repositories: Repositories
  readonly startBackup: StartBackup
  /** Starts a health check (plans that check their newest points after each successful run). */
  readonly startCheck: StartCheck
  /** Where per-plan run locks live (shared with every Lifeboat process on this machine). */
  readonly lockDir: string
  /** Alerts (failed and skipped runs, points that did not boot, VMs without a recent backup, the daily summary). */
  readonly notify?: NotifyService
  /** Copies of each run's new points to the plan's second repositories (plans with `copies`). */
  readonly copies?: Pick<CopyService, 'copyForPlan'>
  readonly now?: () => Date
}

/**
 * Runs backup plans: on their schedule while the app runs (a timer calls runDue), from `lifeboat run-due`, or on
 * demand. A per-plan lock file makes sure the app and a cron-driven CLI never run the same plan twice at once.
 * Runs that were due while no Lifeboat process ran are caught up once and reported, never silently dropped.
 */
export class Scheduler {
  private timer: NodeJS.Timeout | undefined
  private watchedAt = 0
  private watching: Promise<void> | undefined
  private readonly sending = new Set<Promise<unknown>>()

  constructor(private readonly deps: SchedulerDeps) {}

  private now(): Date {
    return this.deps.now?.() ?? new Date()
  }

  async list(): Promise<PlanView[]> {
    const now = this.now()
    const entries = await this.deps.store.list()
    return await Promise.all(entries.map(async ({ plan, state }) => ({ plan, status: await this.status(plan, state, now) })))
  }

  async save(input: PlanInput): Promise<PlanView> {
    const parsed = PlanInputSchema.parse(input)
    compileSchedule(parsed.schedule) // throws INVALID_INPUT (field schedule) for a bad expression
    if (parsed.check?.schedule !== undefined && checkCron(parsed.check.schedule) === undefined) {
      throw new ApiError('INVALID_INPUT', 'A boot check on its own schedule needs a schedule (daily, weekly or cron), not "manual".', { field: 'checkSchedule' })
    }
    const now = this.now().toISOString()
    const plan = await this.deps.store.mutate((data) => {
      if (data.plans.some((p) => p.id !== parsed.id && p.name.toLowerCase() === parsed.name.toLowerCase())) {
        throw new ApiError('INVALID_INPUT', `A plan named "${parsed.name}" already exists.`, { field: 'name' })
      }
      const i = parsed.id === undefined ? -1 : data.plans.findIndex((p) => p.id === parsed.id)
      if (parsed.id !== undefined && i < 0) throw new ApiError('NOT_FOUND', 'That plan does not exist (any more).', { field: 'id' })
      const existing = data.plans[i]
      const next: Plan = { ...parsed, id: existing?.id ?? randomUUID(), createdAt: existing?.createdAt ?? now, updatedAt: now }
      if (existing) data.plans[i] = next
      else data.plans.push(next)
      // A changed schedule counts from now: the old schedule's slots are not "missed" runs of the new one.
      if (!existing || JSON.stringify(existing.schedule) !== JSON.stringify(next.schedule)) data.state[next.id] = { ...(data.state[next.id] ?? { missedRuns: 0 }), lastScheduledFor: now, missedRuns: 0 }
      // The same for the check's own schedule: a check schedule set today does not owe the checks of last week.
      if (next.check?.schedule !== undefined && JSON.stringify(existing?.check?.schedule) !== JSON.stringify(next.check.schedule)) {
        data.state[next.id] = { ...(data.state[next.id] ?? { missedRuns: 0 }), lastCheckScheduledFor: now }
      }
      return next
    })
    const state = (await this.deps.store.read()).state[plan.id] ?? { missedRuns: 0 }
    return { plan, status: await this.status(plan, state, this.now()) }
  }

  async remove(id: string): Promise<void> {
    await this.deps.store.mutate((data) => {
      const before = data.plans.length
      data.plans = data.plans.filter((p) => p.id !== id)
      if (data.plans.length === before) throw new ApiError('NOT_FOUND', 'That plan does not exist (any more).')
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- keyed by plan id
      delete data.state[id]
    })
  }

  /** Runs a plan now, by id or name. */
  async runNow(idOrName: string): Promise<{ jobId: string }> {
    const plan = (await this.deps.store.list()).find(({ plan: p }) => p.id === idOrName || p.name.toLowerCase() === idOrName.toLowerCase())?.plan
    if (!plan) throw new ApiError('NOT_FOUND', `There is no plan "${idOrName}".`)
    const jobId = await this.start(plan, { reason: 'manual' })
    if (jobId === undefined) throw new ApiError('STATE_BUSY', `The plan "${plan.name}" is running already (here or in another Lifeboat process).`)
    return { jobId }
  }

  /** Starts every enabled plan whose time has come; returns at once (the runs are jobs). */
  async runDue(): Promise<{ started: { planId: string; jobId: string; missedRuns: number }[]; skipped: { planId: string; reason: string }[]; checks: { planId: string; jobId: string }[] }> {
    const now = this.now()
    const started: { planId: string; jobId: string; missedRuns: number }[] = []
    const skipped: { planId: string; reason: string }[] = []
    const checks: { planId: string; jobId: string }[] = []
    for (const { plan, state } of await this.deps.store.list()) {
      if (!plan.enabled) continue
      const cron = compileSchedule(plan.schedule)
      if (!cron) continue
      const due = runsBetween(cron, new Date(state.lastScheduledFor ?? plan.createdAt), now)
      const slot = due.at(-1)
      if (!slot) continue
      const missed = due.length - 1
      const jobId = await this.start(plan, { reason: 'schedule', slot, missed, missedSince: due[0] })
      if (jobId === undefined) {
        const reason = 'It is still running from an earlier start.'
        skipped.push({ planId: plan.id, reason })
        this.alert({ kind: 'run-skipped', plan: plan.name, reason })
      } else started.push({ planId: plan.id, jobId, missedRuns: missed })
    }
    // Boot checks on their own schedule: missed slots are caught up once, like runs.
    for (const { plan, state } of await this.deps.store.list()) {
      const check = plan.check
      if (!plan.enabled || check?.schedule === undefined) continue
      const cron = checkCron(check.schedule)
      if (!cron) continue
      const slot = runsBetween(cron, new Date(state.lastCheckScheduledFor ?? plan.updatedAt), now).at(-1)
      if (!slot) continue
      const jobId = await this.startCheck(plan, check, slot)
      if (jobId === undefined) {
        const reason = 'Its boot check is still running from an earlier start.'
        skipped.push({ planId: plan.id, reason })
        this.alert({ kind: 'run-skipped', plan: plan.name, reason })
      } else checks.push({ planId: plan.id, jobId })
    }
    await this.watch(now)
    return { started, skipped, checks }
  }

  /** Sends an alert without waiting for it (a channel's retries must not hold a plan's lock; it never throws). */
  private alert(event: NotifyEvent): void {
    const notify = this.deps.notify
    if (notify === undefined) return
    const sent = notify.event(event).finally(() => this.sending.delete(sent))
    this.sending.add(sent)
  }

  /** Resolves when every alert started so far has been delivered or given up: `run-due` waits for it before it exits. */
  async alertsSent(): Promise<void> {
    while (this.sending.size > 0) await Promise.allSettled([...this.sending])
  }

  /**
   * VMs without a recent backup and the daily summary, at most every WATCH_INTERVAL_MS in a long-running process (each
   * look lists every plan's repository); `run-due` from cron is a new process each time, so it always looks.
   */
  private async watch(now: Date): Promise<void> {
    const notify = this.deps.notify
    if (notify === undefined || this.watching !== undefined || now.getTime() - this.watchedAt < WATCH_INTERVAL_MS) return
    this.watchedAt = now.getTime()
    this.watching = watchPlans(notify, await this.deps.store.list(), this.deps.repositories, now)
      .catch((err: unknown) => console.error('Lifeboat: looking for VMs without a recent backup failed:', err instanceof Error ? err.message : err))
      .finally(() => (this.watching = undefined))
    await this.watching
  }

  /** Checks for due plans every `intervalMs` (the desktop app and the bridge). */
  startTimer(intervalMs = 30_000): void {
    if (this.timer) return
    const tick = () =>
      void this.runDue().catch((err: unknown) => console.error('Lifeboat: checking backup plans failed:', err instanceof Error ? err.message : err))
    this.timer = setInterval(tick, intervalMs)
    this.timer.unref()
    tick()
  }

  stopTimer(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }

  preview(plan: Pick<Plan, 'schedule'>, count: number): string[] {
    const cron = compileSchedule(plan.schedule)
    return cron ? nextRuns(cron, this.now(), count).map((d) => d.toISOString()) : []
  }

  private async status(plan: Plan, state: PlanState, now: Date) {
    const cron = compileSchedule(plan.schedule)
    const running = await lockHeld(this.lockPath(plan.id))
    const checkSchedule = plan.check?.schedule
    const checks = checkSchedule !== undefined ? checkCron(checkSchedule) : undefined
    return {
      ...(state.lastRunAt !== undefined ? { lastRunAt: state.lastRunAt } : {}),
      ...(state.lastResult !== undefined ? { lastResult: state.lastResult } : {}),
      ...(state.lastJobId !== undefined ? { lastJobId: state.lastJobId } : {}),
      ...(state.lastCheck !== undefined ? { lastCheck: state.lastCheck } : {}),
      missedRuns: state.missedRuns,
      ...(state.missedSince !== undefined ? { missedSince: state.missedSince } : {}),
      running,
      nextRuns: plan.enabled && cron ? nextRuns(cron, now, 3).map((d) => d.toISOString()) : [],
      ...(checks !== undefined ? { checking: await lockHeld(this.checkLockPath(plan.id)), nextChecks: plan.enabled ? nextRuns(checks, now, 3).map((d) => d.toISOString()) : [] } : {}),
    }
  }

  private lockPath(planId: string): string {
    return path.join(this.deps.lockDir, `plan-${planId.replace(/[^A-Za-z0-9-]/g, '_')}.lock`)
  }

  /** Held while any boot check of the plan runs (after a run or on its own schedule): one temporary VM per plan at most. */
  private checkLockPath(planId: string): string {
    return path.join(this.deps.lockDir, `plan-${planId.replace(/[^A-Za-z0-9-]/g, '_')}-check.lock`)
  }

  /**
   * Boots the given points under the plan's check lock; a check of this plan already running (here or in another
   * process) gives no verdict rather than a second temporary VM. A failed point raises the check-failed alert.
   */
  private async checkUnderLock(plan: Plan, check: PlanCheck, points: readonly { id: string; label: string }[], ctx: JobContext): Promise<PlanCheckOutcome> {
    const release = await tryHoldLock(this.checkLockPath(plan.id))
    if (!release) {
      const summary = 'Another boot check of this plan is still running; this one did not start.'
      ctx.log('warn', summary)
      return { verdict: 'error', summary, at: this.now().toISOString(), pointIds: points.map((p) => p.id), jobIds: [] }
    }
    try {
      return await this.checkPoints(plan, check, points, ctx)
    } finally {
      await release()
    }
  }

  private async checkPoints(plan: Plan, check: PlanCheck, points: readonly { id: string; label: string }[], ctx: JobContext): Promise<PlanCheckOutcome> {
    const outcome = await checkPlanPoints({ jobs: this.deps.jobs, startCheck: this.deps.startCheck, now: () => this.now() }, check, points, plan.repo, ctx)
    if (outcome.verdict === 'failed') this.alert({ kind: 'check-failed', point: outcome.pointIds.join(', '), reason: `Plan "${plan.name}": ${outcome.summary}` })
    return outcome
  }

  /** Starts a check on the plan's own schedule as a job (kind `plan.check`); undefined when one is running already. */
  private async startCheck(plan: Plan, check: PlanCheck, slot: Date): Promise<string | undefined> {
    const release = await tryHoldLock(this.checkLockPath(plan.id))
    if (!release) return undefined
    try {
      await this.deps.store.updateState(plan.id, { lastCheckScheduledFor: slot.toISOString() })
    } catch (err) {
      await release()
      throw err
    }
    const job = this.deps.jobs.start(
      scheduledCheckJob({
        plan,
        check,
        repositories: this.deps.repositories,
        now: () => this.now(),
        checkPoints: (points, ctx) => this.checkPoints(plan, check, points, ctx),
        save: (outcome) => this.deps.store.updateState(plan.id, { lastCheck: outcome }),
        release,
      }),
    )
    return job.id
  }

  /** Takes the plan's lock and starts its run as a job; undefined when the plan is running already. */
  private async start(plan: Plan, how: { reason: 'manual' | 'schedule'; slot?: Date; missed?: number; missedSince?: Date | undefined }): Promise<string | undefined> {
    const release = await tryHoldLock(this.lockPath(plan.id))
    if (!release) return undefined
    const startedAt = this.now().toISOString()
    const missed = how.missed ?? 0
    // A plan whose check has a schedule of its own does not check after its runs.
    const afterRun = plan.check?.schedule === undefined ? plan.check : undefined
    try {
      // The run's state is written before the job starts, so a second process sees it as soon as it sees the lock.
      await this.deps.store.updateState(plan.id, {
        lastRunAt: startedAt,
        ...(how.slot ? { lastScheduledFor: how.slot.toISOString() } : {}),
        ...(how.reason === 'schedule' ? { missedRuns: missed, ...(missed > 0 && how.missedSince ? { missedSince: how.missedSince.toISOString() } : {}) } : {}),
      })
    } catch (err) {
      await release()
      throw err
    }
    const job = this.deps.jobs.start({
      kind: 'plan.run',
      retry: retryOf('plans.run', { id: plan.id }),
      title: `Backup plan "${plan.name}"`,
      steps: [
        ...plan.targets.map((t, i) => ({ id: `vm-${i}`, label: `${t.vmName ?? t.vm} on ${t.hostName ?? t.host}` })),
        ...(afterRun ? [{ id: 'check', label: `Check that the new restore points boot on ${afterRun.hostName ?? afterRun.host}` }] : []),
      ],
      run: async (ctx) => {
        try {
          if (missed > 0) {
            ctx.log('warn', `${missed} scheduled run(s) since ${how.missedSince?.toISOString() ?? '?'} did not happen (no Lifeboat was running); this run catches up once.`)
          }
          const { points, ...result } = await this.execute(plan, ctx)
          if (!afterRun || points.length === 0) {
            // A check on its own schedule keeps its verdict across runs; an after-run verdict belongs to its run only.
            await this.deps.store.updateState(plan.id, { lastResult: 'succeeded', lastJobId: ctx.jobId, ...(afterRun ? { lastCheck: undefined } : {}) })
            return result
          }
          const end = ctx.step('check')
          const check = await this.checkUnderLock(plan, afterRun, points, ctx)
          end(check.verdict === 'booted' ? 'done' : 'failed')
          // A point that did not boot is the news of this run, but the backup itself worked: the run stays succeeded.
          if (check.verdict === 'failed') ctx.log('warn', `Backed up, but did not boot: ${check.summary}`)
          await this.deps.store.updateState(plan.id, { lastResult: 'succeeded', lastJobId: ctx.jobId, lastCheck: check })
          return { ...result, check }
        } catch (err) {
          const cancelled = ctx.signal.aborted || (err instanceof ApiError && err.code === 'CANCELLED')
          const partial = err instanceof ApiError && err.params.partial === true
          await this.deps.store.updateState(plan.id, { lastResult: cancelled ? 'cancelled' : partial ? 'partial' : 'failed', lastJobId: ctx.jobId, ...(afterRun ? { lastCheck: undefined } : {}) }).catch(() => undefined)
          // Never awaited: an alert that takes its retries must not hold the plan's lock (it never throws).
          if (!cancelled) this.alert({ kind: 'run-failed', plan: plan.name, error: err instanceof Error ? err.message : String(err), jobId: ctx.jobId })
          throw err
        } finally {
          await release()
        }
      },
    })
    return job.id
  }

  /** Backs up each VM (at most `concurrency` at once), then applies the plan's retention to its VMs only. */
  private async execute(plan: Plan, ctx: JobContext): Promise<{ succeeded: number; failed: number; pointIds: string[]; points: { id: string; label: string }[] }> {
    const queue = plan.targets.map((target, i) => ({ target, i }))
    const failures: string[] = []
    const pointIds: string[] = []
    const points: { id: string; label: string }[] = []
    const vmIds = new Set<string>()
    const children = new Set<string>()
    const onAbort = () => {
      for (const id of children) void this.deps.jobs.cancel(id)
    }
    ctx.signal.addEventListener('abort', onAbort, { once: true })
    // The plan's progress is the sum of its VM jobs' (bytes, rate, ETA), so the admin can follow it on the plan too.
    const live = new Map<string, { bytesDone: number; bytesTotal?: number; bytesNew?: number }>()
    const ended = { bytesDone: 0, bytesTotal: 0, bytesNew: 0, count: 0 }
    const report = () => {
      let bytesDone = ended.bytesDone
      let bytesTotal = ended.bytesTotal
      let bytesNew = ended.bytesNew
      let totalKnown = queue.length === 0
      for (const p of live.values()) {
        bytesDone += p.bytesDone
        bytesNew += p.bytesNew ?? 0
        if (p.bytesTotal === undefined) totalKnown = false
        else bytesTotal += p.bytesTotal
      }
      ctx.progress({ phase: 'backup', bytesDone, bytesNew, ...(totalKnown && bytesTotal > 0 ? { bytesTotal: Math.max(bytesTotal, bytesDone) } : {}), detail: `${ended.count} of ${plan.targets.length} VMs done` })
    }
    const offUpdates = this.deps.jobs.onUpdate((job) => {
      if (!children.has(job.id) || job.progress.phase !== 'backup') return
      live.set(job.id, { bytesDone: job.progress.bytesDone, ...(job.progress.bytesTotal !== undefined ? { bytesTotal: job.progress.bytesTotal } : {}), ...(job.progress.bytesNew !== undefined ? { bytesNew: job.progress.bytesNew } : {}) })
      report()
    })
    const worker = async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
        if (ctx.signal.aborted) return
        const { target, i } = item
        const end = ctx.step(`vm-${i}`)
        const label = target.vmName ?? target.vm
        let started: { readonly jobId: string }
        try {
          // The stored plan is read from disk: its options pass the same schema as a `backup.start` call.
          started = await this.deps.startBackup(backupStart.input.parse({ host: target.host, vm: target.vm, mode: plan.mode, ...(plan.repo !== undefined ? { repo: plan.repo } : {}), ...plan.options }))
        } catch (err) {
          const { message } = toApiError(err)
          failures.push(`${label}: ${message}`)
          ctx.log('error', `${label}: ${message}`)
          end('failed')
          continue
        }
        children.add(started.jobId)
        ctx.log('info', `${label}: backup job ${started.jobId} started.`)
        const done = await this.deps.jobs.waitFor(started.jobId)
        children.delete(started.jobId)
        const last = live.get(started.jobId)
        live.delete(started.jobId)
        ended.count++
        ended.bytesDone += last?.bytesDone ?? 0
        ended.bytesTotal += last?.bytesTotal ?? last?.bytesDone ?? 0
        ended.bytesNew += last?.bytesNew ?? 0
        report()
        if (done.state === 'succeeded') {
          const point = done.result as { id?: string; vm?: { id?: string } } | undefined
          if (point?.id !== undefined) {
            pointIds.push(point.id)
            points.push({ id: point.id, label })
          }
          if (point?.vm?.id !== undefined) vmIds.add(point.vm.id)
          ctx.log('info', `${label}: restore point ${point?.id ?? '?'}.`)
          end('done')
        } else {
          failures.push(`${label}: ${done.error?.message ?? done.state}`)
          ctx.log('error', `${label}: ${done.error?.message ?? done.state}`)
          for (const l of done.leftBehind) ctx.leftBehind(`${label}: ${l}`)
          end('failed')
        }
      }
    }
    try {
      await Promise.all(Array.from({ length: Math.min(plan.concurrency, plan.targets.length) }, () => worker()))
    } finally {
      ctx.signal.removeEventListener('abort', onAbort)
      offUpdates()
    }
    if (ctx.signal.aborted) throw new ApiError('CANCELLED', 'The plan run was cancelled.')
    if (plan.retention && vmIds.size > 0) {
      const repo = await this.deps.repositories.open(plan.repo !== undefined ? { location: plan.repo } : {}, ctx.signal)
      try {
        const report = await repo.prune({ policy: plan.retention, vmIds: [...vmIds], signal: ctx.signal })
        ctx.log('info', `Retention: ${report.removed.length} older restore point(s) removed, ${report.kept.length} kept.`)
        for (const l of report.locked) ctx.log('info', `Restore point ${l.pointId} is kept although the rules would remove it: S3 Object Lock protects it until ${l.until}.`)
      } finally {
        await repo.close()
      }
    }
    // Copies go after the plan's own retention, so a copy never receives a point that was just pruned.
    const copyFailures = plan.copies !== undefined && pointIds.length > 0 && this.deps.copies !== undefined ? await this.deps.copies.copyForPlan(plan, pointIds, [...vmIds], ctx) : []
    const succeeded = plan.targets.length - failures.length
    if (failures.length > 0) {
      throw new ApiError('COMMAND_FAILED', `${failures.length} of ${plan.targets.length} VM backups failed: ${[...failures, ...copyFailures].join('; ')}`, { partial: succeeded > 0, failed: failures.length })
    }
    if (copyFailures.length > 0) {
      throw new ApiError('COMMAND_FAILED', `Every VM was backed up, but ${copyFailures.join('; ')}. The next run copies again and resumes.`, { partial: true, failed: 0 })
    }
    return { succeeded, failed: 0, pointIds, points }
  }
}
