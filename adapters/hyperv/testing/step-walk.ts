import { readdir } from 'node:fs/promises'
import path from 'node:path'
import { expect } from 'vitest'
import type { HyperVSim } from '../../../test-hosts/hyperv-pwsh/sim'
import { walkSample } from '../../testing/walk-sample'

/** Every file under the host's drives (folders left out: Lifeboat's jobs folder stays on purpose), relative paths. */
async function files(root: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) if (e.isFile()) out.push(path.relative(root, path.join(e.parentPath, e.name)))
  return out.sort()
}

/**
 * What a flow may change on the Hyper-V host, in a form two states compare by: every VM (state, checkpoint type,
 * drives), every checkpoint, every file on C:, every RCT reference point; after the job lock holders have ended.
 */
export async function hostState(sim: HyperVSim): Promise<unknown> {
  for (let i = 0; i < 100 && sim.running() > 0; i++) await new Promise((r) => setTimeout(r, 50))
  const h = sim.host
  return {
    running: sim.running(),
    vms: [...h.vms.values()].map((v) => ({ id: v.id, name: v.name, state: v.state, type: v.checkpointType, drives: v.drives.map((d) => d.path) })).sort((a, b) => a.id.localeCompare(b.id)),
    checkpoints: [...h.checkpoints.keys()].sort(),
    files: await files(path.join(sim.dataDir, 'C')),
    points: [...h.rct.points.keys()].sort(),
    acls: h.acls.entries(),
  }
}

/** A flow under test: runs on `signal`, calls `mark()` when its forward part is done (what follows is its cleanup). */
export type Flow = (signal: AbortSignal, mark: () => void) => Promise<void>

/**
 * Every step of a Hyper-V flow costs 2–4 s on the 2-core CI machine (a real pwsh runs each invocation), and a full
 * walk of all flows takes four minutes: `npm test` walks a rotating sample of four steps per flow (walk-sample.ts).
 */
export function walkedSteps(steps: number, full?: boolean, seed?: number): number[] {
  return walkSample(steps, 4, full, seed)
}

/**
 * Runs `flow` once cleanly and counts its PowerShell invocations (exec requests), then for every walked step N (see
 * walkedSteps): makes exec N fail, and separately cancels right after exec N has run; each time the host must be
 * exactly as before (and so must whatever `more` reads, e.g. the bytes of a VM's disk files).
 */
export async function walkSteps(sim: HyperVSim, flow: Flow, more: () => Promise<unknown> = () => Promise.resolve(null)): Promise<{ steps: number; walked: number[]; failures: number; cancels: number }> {
  const state = async () => ({ host: await hostState(sim), more: await more() })
  const before = await state()
  const expectClean = async (label: string) => expect(await state(), label).toEqual(before)
  const first = sim.faults.execs
  let marked = -1
  await flow(AbortSignal.timeout(120_000), () => (marked = sim.faults.execs))
  const steps = marked - first
  expect(steps, 'the clean run called mark()').toBeGreaterThan(0)
  await expectClean('after the clean run')
  let failures = 0
  let cancels = 0
  const walked = walkedSteps(steps)
  for (const n of walked) {
    sim.faults.failExec = sim.faults.execs + n
    // Disarmed at mark(): a run that polled less must not have its cleanup fail instead.
    if (await flow(AbortSignal.timeout(120_000), () => (sim.faults.failExec = undefined)).then(() => false, () => true)) failures++
    sim.faults.failExec = undefined
    await expectClean(`failure of step ${n} of ${steps}`)

    const controller = new AbortController()
    const at = sim.faults.execs + n
    sim.faults.afterExec = (k) => {
      if (k === at) controller.abort()
    }
    if (await flow(controller.signal, () => (sim.faults.afterExec = undefined)).then(() => false, () => true)) cancels++
    sim.faults.afterExec = undefined
    await expectClean(`cancel after step ${n} of ${steps}`)
  }
  return { steps, walked, failures, cancels }
}
