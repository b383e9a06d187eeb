import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import type { JobDto } from '../api/contract-jobs'
import { EventBus } from '../common/event-bus'
import { JobRunner } from './job-runner'
import { JobStore } from './job-store'
import { RateMeter } from './rate-meter'

async function makeRunner(now?: () => number) {
  const dir = await mkdtemp(path.join(tmpdir(), 'lb-jobs-'))
  const events = new EventBus()
  const seen: JobDto[] = []
  events.on('job.updated', (j) => seen.push(j))
  const store = new JobStore(dir)
  return { runner: new JobRunner({ store, events, ...(now ? { now } : {}) }), seen, store, dir }
}

describe('JobRunner', () => {
  it('a door that ends at the job’s last event finds its final record on disk after recordsWritten()', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'lb-jobs-'))
    const events = new EventBus()
    const store = new JobStore(dir)
    // A slow disk: each record write takes 50 ms, as on a busy machine.
    const slow = Object.assign(Object.create(store) as JobStore, {
      save: async (job: Parameters<JobStore['save']>[0]) => {
        await new Promise((r) => setTimeout(r, 50))
        await store.save(job)
      },
    })
    const runner = new JobRunner({ store: slow, events })
    const ended = new Promise<string>((resolve) => events.on('job.updated', (j) => j.state === 'succeeded' && resolve(j.id)))
    runner.start({ kind: 'test', title: 'Quick', steps: [], run: () => Promise.resolve(1) })
    // What the CLI does: it sees the job finished, then disposes the engine and exits.
    const id = await ended
    await runner.cancelAll()
    await runner.recordsWritten()
    expect((await store.load(id))?.state).toBe('succeeded')
  })

  it('runs a job to success, tracks steps and persists it', async () => {
    const { runner, seen, store } = await makeRunner()
    const job = runner.start({
      kind: 'test',
      title: 'Copy things',
      steps: [{ id: 'a', label: 'First' }, { id: 'b', label: 'Second' }],
      run: (ctx) => {
        ctx.step('a')()
        ctx.progress({ phase: 'reading', bytesDone: 10, bytesTotal: 100 })
        ctx.log('info', 'hello')
        return Promise.resolve(42)
      },
    })
    expect(await job.done).toBe(42)
    const stored = await store.load(job.id)
    expect(stored?.state).toBe('succeeded')
    expect(stored?.steps.map((s) => s.state)).toEqual(['done', 'skipped'])
    expect(stored?.log.map((l) => l.message)).toContain('hello')
    expect(seen.at(-1)?.state).toBe('succeeded')
    expect((await runner.list(10))[0]?.id).toBe(job.id)
  })

  it('carries a phase\'s try number (`attempt`) and VM (`vm`) to the doors and the record, and drops the try with the phase', async () => {
    const { runner, seen, store } = await makeRunner()
    let carry: () => void = () => undefined
    const going = new Promise<void>((resolve) => (carry = resolve))
    const job = runner.start({
      kind: 'test',
      title: 'Tries',
      steps: [],
      run: async (ctx) => {
        ctx.progress({ phase: 'reconnecting', bytesDone: 0, attempt: 3, vm: 'web', detail: 'web: reconnecting to kvm1 (try 3)' })
        await going
        ctx.progress({ phase: 'running', bytesDone: 0, vm: 'web', detail: 'web' })
      },
    })
    await vi.waitFor(() => expect(seen.some((j) => j.progress.phase === 'reconnecting')).toBe(true))
    expect(seen.find((j) => j.progress.phase === 'reconnecting')?.progress).toEqual({ phase: 'reconnecting', bytesDone: 0, attempt: 3, vm: 'web', detail: 'web: reconnecting to kvm1 (try 3)' })
    await vi.waitFor(async () => expect((await store.load(job.id))?.progress).toMatchObject({ attempt: 3, vm: 'web' }))
    carry()
    await job.done
    expect(seen.at(-1)?.progress).toEqual({ phase: 'running', bytesDone: 0, vm: 'web', detail: 'web' })
  })

  it('cancels through the AbortSignal and reports cancelled only after cleanup ran', async () => {
    const { runner, store } = await makeRunner()
    const order: string[] = []
    const job = runner.start({
      kind: 'test',
      title: 'Long',
      steps: [
        { id: 'prepare', label: 'Prepare' },
        { id: 'read', label: 'Read' },
      ],
      run: async (ctx) => {
        ctx.step('prepare')()
        ctx.step('read')
        try {
          await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }))
        } finally {
          await new Promise((r) => setTimeout(r, 50))
          order.push('cleanup')
        }
      },
    })
    const cancelled = await runner.cancel(job.id)
    expect(cancelled.state).toBe('cancelling')
    await expect(job.done).rejects.toMatchObject({ code: 'CANCELLED' })
    order.push('reported')
    expect(order).toEqual(['cleanup', 'reported'])
    const saved = await store.load(job.id)
    expect(saved?.state).toBe('cancelled')
    // The step that was running when the cancel came reads "cancelled", not "failed".
    expect(saved?.steps.map((s) => s.state)).toEqual(['done', 'cancelled'])
  })

  it('records what a failed job left behind, with a plain error', async () => {
    const { runner } = await makeRunner()
    const job = runner.start({
      kind: 'test',
      title: 'Fails',
      steps: [{ id: 'read', label: 'Read' }],
      run: (ctx) => {
        ctx.step('read')
        ctx.leftBehind('snapshot "lifeboat-1" on web01')
        return Promise.reject(new Error('disk on fire'))
      },
    })
    await expect(job.done).rejects.toMatchObject({ code: 'INTERNAL' })
    const detail = await runner.get(job.id)
    expect(detail.state).toBe('failed')
    expect(detail.steps.map((s) => s.state)).toEqual(['failed'])
    expect(detail.leftBehind).toEqual(['snapshot "lifeboat-1" on web01'])
    expect(detail.error?.message).toContain('disk on fire')
  })

  it('unknown job ids are a clear error', async () => {
    const { runner } = await makeRunner()
    await expect(runner.get('nope')).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' })
  })
})

describe('RateMeter', () => {
  it('smooths throughput and estimates the time left', () => {
    const meter = new RateMeter(1000, 0)
    meter.sample(0, 0)
    expect(meter.sample(1000, 100 * 1024 * 1024)).toBeCloseTo(100 * 1024 * 1024, -3)
    expect(meter.eta(100 * 1024 * 1024, 300 * 1024 * 1024)).toBe(2)
    // A going-backwards counter (new phase) resets the estimate instead of producing a negative rate.
    expect(meter.sample(2000, 5)).toBeUndefined()
  })
})
