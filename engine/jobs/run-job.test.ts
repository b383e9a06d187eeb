import { afterEach, describe, expect, it, vi } from 'vitest'
import type { HostAdapter, HostKind, InstantRunCapability, InstantRunSession } from '../../adapters/host-adapter'
import { ApiError } from '../api/contract-errors'
import type { SavedHost } from '../state/hosts-store'
import type { ProgressUpdate } from '../common/progress'
import type { JobContext } from './job-runner'
import { endServingForDiscard, requireInstantRun, serveHere, watchRun } from './run-job'

const host = (kind: HostKind): SavedHost => ({ id: 'h1', kind, name: `${kind}1`, address: '10.0.0.1', port: 22, user: 'root', authType: 'key', fingerprint: 'SHA256:x', fingerprintType: 'ssh-ed25519', addedAt: '2026-01-01T00:00:00Z' })
const without = (kind: HostKind) => ({ kind }) as unknown as HostAdapter

describe('points run where the host cannot run a VM from a backup', () => {
  it.each([
    ['xenserver', /XenServer\/XCP-ng cannot yet be given a disk that Lifeboat serves/],
    ['hyperv', /Hyper-V cannot yet boot a disk that Lifeboat serves/],
  ] as const)('%s: says why in plain words and names the full restore', (kind, why) => {
    let error: unknown
    try {
      requireInstantRun(without(kind), host(kind), 'p-42')
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(ApiError)
    expect((error as ApiError).code).toBe('NOT_SUPPORTED')
    expect((error as ApiError).message).toMatch(why)
    expect((error as ApiError).message).toContain(`Restore it in full instead: lifeboat restore p-42 --to-host ${kind}1 --as NAME`)
  })
})

describe('a served run whose SSH connection is lost (the job side; the libvirt case is in point-run.test.ts)', () => {
  const vm = 'web-from-backup'
  const info = { name: vm, vmId: 'u1', runId: 'r1', pointId: 'p1', state: 'running', permanent: false, served: true, stalled: false, disks: [] }
  const run = { list: () => Promise.resolve([info]) } as unknown as InstantRunCapability

  function fakeSession(results: readonly ('fail' | 'ok' | 'ok-resumed')[]) {
    let lost: ((reason: string) => void) | undefined
    const tries: number[] = []
    const session = {
      info,
      stopServing: () => Promise.resolve([]),
      onLost: (l: (reason: string) => void) => {
        lost = l
        return () => (lost = undefined)
      },
      serveAgain: () => {
        tries.push(Date.now())
        const r = results[tries.length - 1] ?? 'fail'
        return r === 'fail' ? Promise.reject(new Error('connect ECONNREFUSED 10.0.0.1:22')) : Promise.resolve({ gone: false as const, resumed: r === 'ok-resumed' })
      },
    } satisfies InstantRunSession
    return { session, tries, lose: (reason: string) => lost?.(reason) }
  }

  function fakeContext() {
    const controller = new AbortController()
    const logs: string[] = []
    const phases: string[] = []
    const updates: ProgressUpdate[] = []
    const ctx: JobContext = {
      jobId: 'r1',
      signal: controller.signal,
      progress: (u) => {
        updates.push(u)
        if (phases.at(-1) !== u.phase) phases.push(u.phase)
      },
      log: (_level, message) => logs.push(message),
      step: () => () => undefined,
      leftBehind: () => undefined,
    }
    return { ctx, controller, logs, phases, updates }
  }

  afterEach(() => {
    vi.useRealTimers()
  })

  it('reconnects at once when the connection closes, with growing waits between failed tries, logs each, and shows reconnecting', async () => {
    vi.useFakeTimers()
    const { session, tries, lose } = fakeSession(['fail', 'fail', 'ok-resumed'])
    const { ctx, controller, logs, phases, updates } = fakeContext()
    const outcome = watchRun(run, session, vm, 'kvm1', () => 0, ctx)
    await vi.advanceTimersByTimeAsync(2500)
    expect(phases).toEqual(['running'])
    const t0 = Date.now()
    lose('read ECONNRESET')
    await vi.advanceTimersByTimeAsync(0)
    // The close event, not the next look 2 s later, starts the first try.
    expect(tries).toEqual([t0])
    expect(phases).toEqual(['running', 'reconnecting'])
    await vi.advanceTimersByTimeAsync(3000)
    expect(tries.map((t) => t - t0)).toEqual([0, 1000, 3000])
    expect(logs.slice(0, 4)).toEqual([
      `The SSH connection to kvm1 was lost (read ECONNRESET); ${vm} pauses on its next read of the backup; reconnecting…`,
      `Reconnecting to kvm1 failed (try 1): connect ECONNREFUSED 10.0.0.1:22. Trying again in 1 s; ${vm} waits paused, nothing it wrote is lost.`,
      `Reconnecting to kvm1 failed (try 2): connect ECONNREFUSED 10.0.0.1:22. Trying again in 2 s; ${vm} waits paused, nothing it wrote is lost.`,
      `Reconnected to kvm1 after 3.0 s: ${vm} is served again; it had paused on a read of the backup and was resumed.`,
    ])
    expect(phases).toEqual(['running', 'reconnecting', 'running'])
    // Each try's number is a field of its own (the app reads it); the detail keeps the words for people.
    expect(updates.filter((u) => u.phase === 'reconnecting').map((u) => [u.attempt, u.detail])).toEqual([
      [1, `${vm}: reconnecting to kvm1`],
      [2, `${vm}: reconnecting to kvm1 (try 2)`],
      [3, `${vm}: reconnecting to kvm1 (try 3)`],
    ])
    expect(updates.filter((u) => u.phase !== 'reconnecting').every((u) => u.attempt === undefined)).toBe(true)
    // And which VM every serving update is about, as a field too (the app ties the job to its run by it).
    expect(updates.filter((u) => u.phase === 'running' || u.phase === 'reconnecting').every((u) => u.vm === vm)).toBe(true)
    controller.abort()
    await expect(outcome).resolves.toBe('discarded')
  })

  it('keeps trying while the host stays away (waits up to 30 s), and a cancel during the outage ends the watch at once', async () => {
    vi.useFakeTimers()
    const { session, tries, lose } = fakeSession([])
    const { ctx, controller, logs } = fakeContext()
    const outcome = watchRun(run, session, vm, 'kvm1', () => 0, ctx)
    const t0 = Date.now()
    lose('the host closed it')
    await vi.advanceTimersByTimeAsync(10 * 60_000)
    const gaps = tries.slice(1).map((t, i) => t - (tries[i] ?? 0))
    expect(gaps.slice(0, 6)).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000])
    expect(new Set(gaps.slice(5))).toEqual(new Set([30_000]))
    expect(tries[0]).toBe(t0)
    expect(logs.filter((l) => l.startsWith('Reconnecting to kvm1 failed'))).toHaveLength(tries.length)
    const before = tries.length
    controller.abort()
    await expect(outcome).resolves.toBe('discarded')
    await vi.advanceTimersByTimeAsync(60_000)
    expect(tries).toHaveLength(before)
  })

  it('a connection lost again while serving again is served again once more', async () => {
    vi.useFakeTimers()
    const fake = fakeSession(['ok', 'ok'])
    const { ctx, controller, logs } = fakeContext()
    const outcome = watchRun(run, fake.session, vm, 'kvm1', () => 0, ctx)
    fake.lose('first')
    await vi.advanceTimersByTimeAsync(0)
    fake.lose('second')
    await vi.advanceTimersByTimeAsync(0)
    expect(fake.tries).toHaveLength(2)
    expect(logs.filter((l) => l.startsWith('Reconnected to kvm1'))).toHaveLength(2)
    controller.abort()
    await expect(outcome).resolves.toBe('discarded')
  })
})

describe('a served run discarded while its job reconnects (runs discard)', () => {
  const vm = 'web-from-backup'
  const info = { name: vm, vmId: 'u1', runId: 'r1', pointId: 'p1', state: 'running', permanent: false, served: true, stalled: false, disks: [] }

  function setup(results: readonly ('fail' | 'gone' | 'hang')[], listed: () => readonly (typeof info)[] = () => [info]) {
    let lost: ((reason: string) => void) | undefined
    const tries: number[] = []
    const aborted: number[] = []
    const session = {
      info,
      stopServing: () => Promise.resolve([]),
      onLost: (l: (reason: string) => void) => {
        lost = l
        return () => (lost = undefined)
      },
      serveAgain: (signal: AbortSignal) => {
        tries.push(Date.now())
        const r = results[tries.length - 1] ?? 'fail'
        if (r === 'gone') return Promise.resolve({ gone: true as const })
        if (r === 'fail') return Promise.reject(new Error('connect ECONNREFUSED 10.0.0.1:22'))
        return new Promise<never>((_, reject) =>
          signal.addEventListener('abort', () => {
            aborted.push(tries.length)
            reject(new Error('aborted'))
          }),
        )
      },
    } satisfies InstantRunSession
    const run = { list: () => Promise.resolve(listed()) } as unknown as InstantRunCapability
    const controller = new AbortController()
    const logs: string[] = []
    const ctx: JobContext = { jobId: 'r1', signal: controller.signal, progress: () => undefined, log: (_level, message) => logs.push(message), step: () => () => undefined, leftBehind: () => undefined }
    return { session, run, ctx, controller, logs, tries, aborted, lose: (reason: string) => lost?.(reason) }
  }

  afterEach(() => {
    vi.useRealTimers()
  })

  it('discarded in this process during the wait between tries: the watch ends at once, says so, and never tries again', async () => {
    vi.useFakeTimers()
    const f = setup([])
    const discarding = new AbortController()
    let outcome: string | undefined
    void watchRun(f.run, f.session, vm, 'kvm1', () => 0, f.ctx, discarding.signal).then((o) => (outcome = o))
    f.lose('read ECONNRESET')
    await vi.advanceTimersByTimeAsync(20_000)
    const before = f.tries.length
    expect(before).toBeGreaterThanOrEqual(4)
    discarding.abort()
    await vi.advanceTimersByTimeAsync(0)
    expect(outcome).toBe('discarded-elsewhere')
    expect(f.logs.at(-1)).toBe(`${vm} is being discarded (runs discard): serving ends first, so nothing is served again for it.`)
    await vi.advanceTimersByTimeAsync(120_000)
    expect(f.tries).toHaveLength(before)
  })

  it('discarded in this process during a try: that try is aborted and the watch ends', async () => {
    vi.useFakeTimers()
    const f = setup(['fail', 'hang'])
    const discarding = new AbortController()
    const outcome = watchRun(f.run, f.session, vm, 'kvm1', () => 0, f.ctx, discarding.signal)
    f.lose('read ECONNRESET')
    await vi.advanceTimersByTimeAsync(1500)
    expect(f.tries).toHaveLength(2)
    discarding.abort()
    await expect(outcome).resolves.toBe('discarded-elsewhere')
    expect(f.aborted).toEqual([2])
    expect(f.logs.filter((l) => l.startsWith('Reconnecting to kvm1 failed'))).toHaveLength(1)
  })

  it('a cancel wins over a discard at the same moment: the job discards the VM itself (outcome discarded)', async () => {
    vi.useFakeTimers()
    const f = setup([])
    const discarding = new AbortController()
    const outcome = watchRun(f.run, f.session, vm, 'kvm1', () => 0, f.ctx, discarding.signal)
    f.lose('read ECONNRESET')
    await vi.advanceTimersByTimeAsync(5000)
    f.controller.abort()
    discarding.abort()
    await expect(outcome).resolves.toBe('discarded')
  })

  it('discarded elsewhere while the connection was down: the try that reaches the host finds it gone and the watch ends', async () => {
    vi.useFakeTimers()
    const f = setup(['fail', 'fail', 'gone'])
    const outcome = watchRun(f.run, f.session, vm, 'kvm1', () => 0, f.ctx)
    f.lose('read ECONNRESET')
    await vi.advanceTimersByTimeAsync(3000)
    await expect(outcome).resolves.toBe('discarded-elsewhere')
    expect(f.logs.at(-1)).toBe(`Reconnected to kvm1: ${vm} is no longer there (discarded elsewhere while the connection was down); serving ends.`)
    await vi.advanceTimersByTimeAsync(120_000)
    expect(f.tries).toHaveLength(3)
  })

  it('runs.discard asks the serving job of this process for that VM on that host to end, and waits until it stopped serving', async () => {
    const web = serveHere('h-discard', 'web')
    const other = serveHere('h-discard', 'db')
    const elsewhere = serveHere('h-other', 'web')
    let done = false
    const ending = endServingForDiscard('h-discard', 'web', new AbortController().signal).then(() => (done = true))
    await Promise.resolve()
    expect([web.discarding.aborted, other.discarding.aborted, elsewhere.discarding.aborted]).toEqual([true, false, false])
    await new Promise((r) => setTimeout(r, 20))
    expect(done).toBe(false)
    web.stopped()
    await ending
    expect(done).toBe(true)
    // Stopped jobs are off the list: a later discard has nothing to wait for; neither has one of a VM nobody serves.
    await expect(endServingForDiscard('h-discard', 'web', AbortSignal.timeout(1000))).resolves.toBeUndefined()
    await expect(endServingForDiscard('h-discard', 'nobody-serves-this', AbortSignal.timeout(1000))).resolves.toBeUndefined()
    // A discard cancelled while the job still stops says so (and does not go on to discard).
    const cancel = new AbortController()
    const waiting = endServingForDiscard('h-discard', 'db', cancel.signal)
    cancel.abort()
    await expect(waiting).rejects.toMatchObject({ code: 'CANCELLED' })
    other.stopped()
    elsewhere.stopped()
  })
})
