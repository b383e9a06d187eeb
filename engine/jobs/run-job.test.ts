import { afterEach, describe, expect, it, vi } from 'vitest'
import type { HostAdapter, HostKind, InstantRunCapability, InstantRunSession } from '../../adapters/host-adapter'
import { ApiError } from '../api/contract-errors'
import type { SavedHost } from '../state/hosts-store'
import type { JobContext } from './job-runner'
import { requireInstantRun, watchRun } from './run-job'

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
        return r === 'fail' ? Promise.reject(new Error('connect ECONNREFUSED 10.0.0.1:22')) : Promise.resolve({ resumed: r === 'ok-resumed' })
      },
    } satisfies InstantRunSession
    return { session, tries, lose: (reason: string) => lost?.(reason) }
  }

  function fakeContext() {
    const controller = new AbortController()
    const logs: string[] = []
    const phases: string[] = []
    const ctx: JobContext = {
      jobId: 'r1',
      signal: controller.signal,
      progress: (u) => {
        if (phases.at(-1) !== u.phase) phases.push(u.phase)
      },
      log: (_level, message) => logs.push(message),
      step: () => () => undefined,
      leftBehind: () => undefined,
    }
    return { ctx, controller, logs, phases }
  }

  afterEach(() => {
    vi.useRealTimers()
  })

  it('reconnects at once when the connection closes, with growing waits between failed tries, logs each, and shows reconnecting', async () => {
    vi.useFakeTimers()
    const { session, tries, lose } = fakeSession(['fail', 'fail', 'ok-resumed'])
    const { ctx, controller, logs, phases } = fakeContext()
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
