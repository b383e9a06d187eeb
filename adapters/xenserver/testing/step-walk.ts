import { expect } from 'vitest'
import type { XapiSim } from '../../../test-hosts/xapi-sim/sim'
import { walkSample } from '../../testing/walk-sample'
import { signal } from './sim-fixture'

/**
 * What a flow may change on the pool, in a form two states compare by: every VM (power state, Lifeboat's tags),
 * VDI (type, changed block tracking, Lifeboat's tags), VBD and VIF, and the tasks still running.
 */
export function poolState(sim: XapiSim): string {
  const tagsOf = (o: unknown) =>
    Object.entries((o ?? {}) as Record<string, string>)
      .filter(([k]) => k.startsWith('lifeboat:'))
      .sort()
  const vms = sim.db.all('VM').map(([ref, r]) => [ref, r.power_state, tagsOf(r.other_config)])
  const vdis = sim.db.all('VDI').map(([ref, r]) => [ref, r.type, r.cbt_enabled, tagsOf(r.other_config)])
  // A transfer's VBD in the control domain is the pool's own; it goes away a moment later by itself.
  const vbds = sim.db.all('VBD').filter(([, r]) => sim.db.find('VM', r.VM as string)?.is_control_domain !== true).map(([ref]) => ref)
  const vifs = sim.db.all('VIF').map(([ref]) => ref)
  const running = sim.db.all('task').filter(([, t]) => t.status === 'pending' || t.status === 'cancelling').map(([, t]) => t.name_label)
  const sorted = (xs: unknown[]) => xs.map((x) => JSON.stringify(x)).sort()
  return JSON.stringify({ vms: sorted(vms), vdis: sorted(vdis), vbds: sorted(vbds), vifs: sorted(vifs), running })
}

/**
 * A flow under test: runs on `signal`, calls `mark()` once its forward part is done (what comes after is its own
 * cleanup, e.g. finish()), and must undo everything when it fails or is cancelled.
 */
export type Flow = (signal: AbortSignal, mark: () => void) => Promise<void>

export interface WalkReport {
  /** Host calls of the forward part on a clean run. */
  readonly steps: number
  /** The steps walked: all of a short flow, otherwise a rotating sample of WALK_BUDGET (walk-sample.ts). */
  readonly walked: readonly number[]
  /** Runs that failed (the injected error surfaced), and runs that ended cancelled. */
  readonly failures: number
  readonly cancels: number
}

/**
 * A XenServer step costs ~0.15 s, but the flows have up to 55 steps and the walk of all of them took ~2 minutes of a
 * CPU-bound suite: twelve per flow, rotating, walk every step within a week of daily runs.
 */
const WALK_BUDGET = 12

/**
 * Runs `flow` once cleanly and counts its host calls (RPC calls and HTTP transfers), then for every step N: makes
 * call N fail (an XAPI error, as the pool would answer) and, separately, cancels right after call N has run; each
 * time the pool must be exactly as before. Steps are counted per run, so a flow whose polls vary still walks all.
 * `extra` adds what else a flow must leave as it was (disk contents, its own finished tasks), compared the same way.
 */
export async function walkSteps(sim: XapiSim, flow: Flow, extra: () => unknown = () => null): Promise<WalkReport> {
  const state = () => JSON.stringify({ pool: JSON.parse(poolState(sim)) as unknown, extra: extra() })
  const before = state()
  const expectClean = (label: string) => expect(JSON.parse(state()), label).toEqual(JSON.parse(before))
  let marked = -1
  const first = sim.faults.calls
  await flow(signal(), () => (marked = sim.faults.calls))
  const steps = marked - first
  expect(steps, 'the clean run called mark()').toBeGreaterThan(0)
  expectClean('after the clean run')
  let failures = 0
  let cancels = 0
  const walked = walkSample(steps, WALK_BUDGET)
  for (const n of walked) {
    sim.faults.failCall = { at: sim.faults.calls + n, code: 'INTERNAL_ERROR', params: [`injected failure of step ${n}`] }
    // Disarmed at mark(): a run that polled less must not have its cleanup fail instead.
    const failed = await flow(signal(), () => (sim.faults.failCall = undefined)).then(
      () => false,
      () => true,
    )
    // A flow polls tasks as long as they take, so near the end a run may stop short of step N.
    sim.faults.failCall = undefined
    if (failed) failures++
    expectClean(`failure of step ${n} of ${steps}`)

    const controller = new AbortController()
    const at = sim.faults.calls + n
    sim.faults.afterCall = (k) => {
      if (k === at) controller.abort()
    }
    const cancelled = await flow(controller.signal, () => (sim.faults.afterCall = undefined)).then(
      () => false,
      () => true,
    )
    sim.faults.afterCall = undefined
    if (cancelled) cancels++
    expectClean(`cancel after step ${n} of ${steps}`)
  }
  return { steps, walked, failures, cancels }
}
