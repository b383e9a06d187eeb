import { randomUUID } from 'node:crypto'
import { ApiError, type ApiErrorShape } from '../api/contract-errors'
import type { JobDto, JobRetry } from '../api/contract-jobs'
import type { EventBus } from '../common/event-bus'
import { toApiError } from '../errors/to-api-error'
import { toJobDto, type JobRecord, type LogLevel, type StepState } from './job-record'
import type { JobStore } from './job-store'
import type { ProgressSink, ProgressUpdate } from '../common/progress'
import { RateMeter } from './rate-meter'

export interface JobStep {
  readonly id: string
  readonly label: string
}

/** What a running job gets: its cancel signal and ways to report. */
export interface JobContext {
  readonly jobId: string
  readonly signal: AbortSignal
  readonly progress: ProgressSink
  log(level: LogLevel, message: string): void
  /** Marks a declared step (or a new one) running; the returned function ends it. */
  step(id: string, label?: string): (state?: Extract<StepState, 'done' | 'failed' | 'skipped'>) => void
  /** Records something the job could not clean up, in plain words; shown with the failure. */
  leftBehind(description: string): void
}

export interface JobSpec<R> {
  readonly kind: string
  readonly title: string
  readonly hostId?: string
  readonly vmId?: string
  readonly steps?: readonly JobStep[]
  /** The request that started the job (channel and input, no secrets), so the admin can run it again. */
  readonly retry?: JobRetry
  run(ctx: JobContext): Promise<R>
}

export interface StartedJob<R> {
  readonly id: string
  /** Settles when the job ends: the result, or the ApiError it failed with (CANCELLED when cancelled). */
  readonly done: Promise<R>
}

const MAX_LOG_LINES = 5000
const PUBLISH_INTERVAL_MS = 250
/** How often a runner looks for cancel requests from other Lifeboat processes while its jobs run. */
const CANCEL_POLL_MS = 1000

interface LiveJob {
  job: JobRecord
  controller: AbortController
  meter: RateMeter
  lastPublished: number
  publishTimer: NodeJS.Timeout | undefined
  /** Saves run one after another so an older snapshot never overwrites a newer one. */
  saving: Promise<void>
  done: Promise<unknown>
}

/**
 * Runs jobs, tracks their progress (rate and ETA computed here, not by producers), persists them, publishes
 * `job.updated` (throttled while bytes flow, immediately on state changes) and cancels them through their
 * AbortSignal. A job is only reported cancelled after its run() has returned, i.e. after its cleanup ran.
 */
export class JobRunner {
  private readonly live = new Map<string, LiveJob>()
  /** Recently finished jobs, so a caller that saw the final event can read the record before it is on disk. */
  private readonly recent = new Map<string, JobRecord>()
  /** Looks for cancel requests from other Lifeboat processes while jobs run (see JobStore.requestCancel). */
  private cancelWatch: ReturnType<typeof setInterval> | undefined
  /** Record writes not yet on disk: the final one of a job goes out after its `job.updated` event. */
  private readonly writes = new Set<Promise<unknown>>()

  constructor(
    private readonly deps: { store: JobStore; events: EventBus; now?: () => number },
  ) {}

  private now(): number {
    return this.deps.now?.() ?? Date.now()
  }

  start<R>(spec: JobSpec<R>): StartedJob<R> {
    const id = randomUUID()
    const created = new Date(this.now()).toISOString()
    const job: JobRecord = {
      id,
      kind: spec.kind,
      title: spec.title,
      state: 'running',
      createdAt: created,
      startedAt: created,
      progress: { phase: 'starting', bytesDone: 0 },
      steps: (spec.steps ?? []).map((s) => ({ id: s.id, label: s.label, state: 'pending' as const })),
      leftBehind: [],
      log: [],
      ...(spec.hostId !== undefined ? { hostId: spec.hostId } : {}),
      ...(spec.vmId !== undefined ? { vmId: spec.vmId } : {}),
      ...(spec.retry !== undefined ? { retry: spec.retry } : {}),
    }
    const live: LiveJob = { job, controller: new AbortController(), meter: new RateMeter(), lastPublished: 0, publishTimer: undefined, saving: Promise.resolve(), done: Promise.resolve() }
    this.live.set(id, live)
    this.publish(live, true)
    this.watchForCancelRequests()

    const ctx = this.context(live)
    const done = (async () => {
      try {
        const result = await spec.run(ctx)
        if (live.controller.signal.aborted) throw new ApiError('CANCELLED', 'The job was cancelled.')
        const json = asJson(result)
        if (json !== undefined) live.job.result = json
        this.finish(live, 'succeeded')
        await live.saving
        return result
      } catch (err) {
        const apiError = live.controller.signal.aborted ? new ApiError('CANCELLED', 'The job was cancelled; its cleanup has run.') : toApiError(err)
        const cancelled = apiError.code === 'CANCELLED'
        for (const step of live.job.steps) if (step.state === 'running') step.state = cancelled ? 'cancelled' : 'failed'
        this.addLog(live, cancelled ? 'warn' : 'error', apiError.message)
        this.finish(live, cancelled ? 'cancelled' : 'failed', apiError.toJSON())
        await live.saving
        throw apiError
      }
    })()
    // The runner owns the outcome; callers that do not await `done` must not cause an unhandled rejection.
    done.catch(() => undefined)
    live.done = done
    return { id, done }
  }

  /** Newest first, without their logs. */
  async list(limit: number): Promise<JobRecord[]> {
    const stored = await this.deps.store.list(limit)
    const byId = new Map(stored.map((j) => [j.id, j]))
    for (const job of this.recent.values()) byId.set(job.id, job)
    for (const { job } of this.live.values()) byId.set(job.id, job)
    return [...byId.values()]
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .slice(0, limit)
      .map((job) => ({ ...job, log: [] }))
  }

  async get(id: string): Promise<JobRecord> {
    const live = this.live.get(id)
    if (live) return structuredClone(live.job)
    const recent = this.recent.get(id)
    if (recent) return structuredClone(recent)
    const stored = await this.deps.store.load(id)
    if (!stored) throw new ApiError('JOB_NOT_FOUND', 'There is no job with that id.', { jobId: id })
    return stored
  }

  /** Every published update of every job (state changes at once, byte progress throttled). */
  onUpdate(listener: (job: JobDto) => void): () => void {
    return this.deps.events.on('job.updated', listener)
  }

  /** Resolves with the job's record once it has ended (at once for a finished job). */
  async waitFor(id: string): Promise<JobRecord> {
    const live = this.live.get(id)
    if (live) await live.done.catch(() => undefined)
    return await this.get(id)
  }

  async cancel(id: string): Promise<JobRecord> {
    const live = this.live.get(id)
    if (!live) {
      const stored = await this.get(id)
      // Run by another Lifeboat process (the app, a terminal, cron): ask it; it cleans up and records the end.
      if ((stored.state === 'running' || stored.state === 'queued') && (await this.deps.store.requestCancel(id))) {
        return { ...stored, state: 'cancelling' }
      }
      return stored // already finished: cancelling is a no-op, not an error
    }
    if (live.job.state === 'running') {
      live.job.state = 'cancelling'
      this.addLog(live, 'warn', 'Cancel requested; cleaning up.')
      live.controller.abort(new ApiError('CANCELLED', 'The job was cancelled.'))
      this.publish(live, true)
    }
    return structuredClone(live.job)
  }

  private watchForCancelRequests(): void {
    if (this.cancelWatch !== undefined) return
    this.cancelWatch = setInterval(() => {
      if (this.live.size === 0) {
        clearInterval(this.cancelWatch)
        this.cancelWatch = undefined
        return
      }
      for (const [id, live] of this.live) {
        if (live.job.state !== 'running') continue
        void this.deps.store.cancelRequested(id).then(async (asked) => {
          const current = this.live.get(id)
          if (!asked || current?.job.state !== 'running') return
          this.addLog(current, 'warn', 'Another Lifeboat window or command asked to cancel this job.')
          await this.cancel(id)
        })
      }
    }, CANCEL_POLL_MS)
    this.cancelWatch.unref()
  }

  /** Cancels every running job and waits (bounded) for their cleanup, e.g. when the app quits. */
  async cancelAll(timeoutMs = 30_000): Promise<void> {
    const ids = [...this.live.keys()]
    await Promise.all(ids.map((id) => this.cancel(id)))
    const deadline = Date.now() + timeoutMs
    while (this.live.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  }

  private context(live: LiveJob): JobContext {
    return {
      jobId: live.job.id,
      signal: live.controller.signal,
      progress: (update) => this.onProgress(live, update),
      log: (level, message) => {
        this.addLog(live, level, message)
        this.publish(live, false)
      },
      step: (id, label) => {
        let step = live.job.steps.find((s) => s.id === id)
        if (!step) {
          step = { id, label: label ?? id, state: 'pending' }
          live.job.steps.push(step)
        }
        step.state = 'running'
        this.publish(live, true)
        const s = step
        return (state = 'done') => {
          s.state = state
          this.publish(live, true)
        }
      },
      leftBehind: (description) => {
        live.job.leftBehind.push(description)
        this.addLog(live, 'warn', `Left behind: ${description}`)
        this.publish(live, true)
      },
    }
  }

  private onProgress(live: LiveJob, update: ProgressUpdate): void {
    const previous = live.job.progress
    if (previous.phase !== update.phase) live.meter.reset()
    const rate = live.meter.sample(this.now(), update.bytesDone)
    const eta = live.meter.eta(update.bytesDone, update.bytesTotal)
    live.job.progress = {
      phase: update.phase,
      bytesDone: update.bytesDone,
      ...(update.bytesTotal !== undefined ? { bytesTotal: update.bytesTotal } : {}),
      ...(update.bytesNew !== undefined ? { bytesNew: update.bytesNew } : {}),
      ...(rate !== undefined ? { rate } : {}),
      ...(eta !== undefined ? { etaSeconds: eta } : {}),
      ...(update.detail !== undefined ? { detail: update.detail } : {}),
      ...(update.attempt !== undefined ? { attempt: update.attempt } : {}),
      ...(update.vm !== undefined ? { vm: update.vm } : {}),
    }
    if (previous.phase !== update.phase) this.addLog(live, 'info', `Phase: ${update.phase}${update.detail ? ` (${update.detail})` : ''}`)
    this.publish(live, previous.phase !== update.phase)
  }

  private addLog(live: LiveJob, level: LogLevel, message: string): void {
    const log = live.job.log
    if (log.length >= MAX_LOG_LINES) log.splice(0, log.length - MAX_LOG_LINES + 1)
    log.push({ at: new Date(this.now()).toISOString(), level, message })
  }

  private finish(live: LiveJob, state: 'succeeded' | 'failed' | 'cancelled', error?: ApiErrorShape): void {
    live.job.state = state
    live.job.endedAt = new Date(this.now()).toISOString()
    if (error) live.job.error = error
    if (state === 'succeeded') {
      for (const step of live.job.steps) if (step.state === 'running' || step.state === 'pending') step.state = step.state === 'running' ? 'done' : 'skipped'
      this.addLog(live, 'info', 'Finished.')
    }
    this.track(this.deps.store.clearCancel(live.job.id).catch(() => undefined))
    this.recent.set(live.job.id, live.job)
    if (this.recent.size > 200) this.recent.delete(this.recent.keys().next().value ?? '')
    this.publish(live, true)
    this.live.delete(live.job.id)
  }

  /** Publishes and persists; byte-progress updates are throttled, state changes go out at once. */
  private publish(live: LiveJob, immediate: boolean): void {
    const now = this.now()
    if (!immediate && now - live.lastPublished < PUBLISH_INTERVAL_MS) {
      live.publishTimer ??= setTimeout(() => {
        live.publishTimer = undefined
        this.publish(live, true)
      }, PUBLISH_INTERVAL_MS)
      return
    }
    if (live.publishTimer) {
      clearTimeout(live.publishTimer)
      live.publishTimer = undefined
    }
    live.lastPublished = now
    const snapshot = structuredClone(live.job)
    this.deps.events.emit('job.updated', toJobDto(snapshot))
    live.saving = live.saving
      .then(() => this.deps.store.save(snapshot))
      .catch((err: unknown) => {
        console.error('Lifeboat: could not save job record:', err instanceof Error ? err.message : err)
      })
    this.track(live.saving)
  }

  private track(write: Promise<unknown>): void {
    this.writes.add(write)
    void write.finally(() => this.writes.delete(write))
  }

  /**
   * Resolves once every job record written so far is on disk. A door that quits right after a job's last event (the
   * CLI ends when it sees the job finished) waits for this, or the job's history would keep it "running".
   */
  async recordsWritten(): Promise<void> {
    while (this.writes.size > 0) await Promise.all([...this.writes])
  }
}

/** A job's return value as plain JSON for its record (undefined when there is nothing serialisable). */
function asJson(value: unknown): JobRecord['result'] {
  if (value === undefined) return undefined
  try {
    return JSON.parse(JSON.stringify(value)) as JobRecord['result']
  } catch {
    return undefined
  }
}
