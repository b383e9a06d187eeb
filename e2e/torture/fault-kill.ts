/**
 * kill -9 of the `lifeboat` process at a random moment of a backup, a restore (disk export), a prune, a GC or a
 * verify. The moment is drawn from the seeded PRNG between the process start and a little past the operation's
 * measured duration, so some kills land in start-up, most in the work, a few just after it.
 */
import { mkdir, readdir, rm } from 'node:fs/promises'
import path from 'node:path'
import { aftermath, backupFile, listPoints, type PointRef } from './aftermath'
import type { FaultRunOptions } from './environment'
import { changedCopy, randomImage, sha256 } from './images'
import { describeRun, jsonOf, type RunResult } from './lifeboat-process'
import { record } from './report'

type Op = 'backup' | 'restore' | 'prune' | 'gc' | 'verify'
const OPS: readonly Op[] = ['backup', 'restore', 'prune', 'gc', 'verify']
const KEEP_VM = 'torture-keep'
const WORK_VM = 'torture-vm'

export interface KillOptions extends FaultRunOptions {
  readonly imageMiB: number
}

export async function killCampaign(o: KillOptions): Promise<void> {
  const { env, target, prng } = o
  const runner = env.runner
  const repo = target.location
  const scratch = path.join(env.dir, 'kill', target.kind)
  const outDir = path.join(scratch, 'restore')
  await mkdir(outDir, { recursive: true })
  const pristine = await randomImage(path.join(scratch, 'pristine.img'), o.imageMiB)
  const must = async (what: string, r: Promise<RunResult>): Promise<RunResult> => {
    const done = await r
    if (done.code !== 0) throw new Error(`${what} (setup) failed: ${describeRun(done)}`)
    return done
  }
  const kept = jsonOf(await must('first backup', backupFile(runner, repo, pristine, KEEP_VM))) as { id: string }
  const restoreOut = path.join(outDir, 'disk.raw')
  const expected = await sha256(pristine)

  // How long each operation takes here, unhurt: the kill moments are drawn up to a little past it.
  const duration = new Map<Op, number>()
  let work = await changedCopy(pristine, path.join(scratch, 'work-0.img'), o.imageMiB, 3, prng)
  duration.set('backup', (await must('backup', backupFile(runner, repo, work, WORK_VM))).ms)
  duration.set('restore', (await must('restore', exportPoint(kept.id))).ms)
  duration.set('verify', (await must('verify', runner.run(['repo', 'verify', '--repo', repo], { timeoutMs: 300_000 }))).ms)
  duration.set('gc', (await must('gc', runner.run(['repo', 'gc', '--repo', repo], { timeoutMs: 300_000 }))).ms)
  duration.set('prune', (await must('prune', runner.run(['repo', 'prune', '--keep-last', '3', '--dry-run', '--repo', repo], { timeoutMs: 120_000 }))).ms * 2)
  o.log(`  ${target.kind}: unhurt durations ${[...duration].map(([k, ms]) => `${k} ${ms} ms`).join(', ')}`)

  function exportPoint(pointId: string, killAfterMs?: number): Promise<RunResult> {
    return runner.run(['points', 'export', pointId, '--disk', '0', '--format', 'raw', '--out', restoreOut, '--repo', repo], {
      timeoutMs: 300_000,
      ...(killAfterMs !== undefined ? { killAfterMs } : {}),
    })
  }

  for (let run = 1; run <= o.runs; run++) {
    const op = prng.pick(OPS)
    const delay = prng.int(50, Math.round((duration.get(op) ?? 1000) * 1.15))
    const before: PointRef[] = await listPoints(runner, repo)
    let mayRemove = new Set<string>()
    const extra: string[] = []
    work = await changedCopy(pristine, path.join(scratch, `work-${run}.img`), o.imageMiB, prng.int(2, 6), prng)
    let result: RunResult
    switch (op) {
      case 'backup':
        result = await backupFile(runner, repo, work, WORK_VM, { killAfterMs: delay })
        break
      case 'restore':
        await rm(restoreOut, { force: true })
        result = await exportPoint(kept.id, delay)
        break
      case 'prune': {
        const dry = jsonOf(await runner.run(['repo', 'prune', '--keep-last', '3', '--dry-run', '--repo', repo], { timeoutMs: 120_000 })) as { removed?: { id: string }[] } | undefined
        mayRemove = new Set((dry?.removed ?? []).map((p) => p.id))
        result = await runner.run(['repo', 'prune', '--keep-last', '3', '--repo', repo], { timeoutMs: 120_000, killAfterMs: delay })
        break
      }
      case 'gc':
      case 'verify':
        result = await runner.run(['repo', op, '--repo', repo], { timeoutMs: 300_000, killAfterMs: delay })
        break
    }
    const outcome = result.killed ? `${op} killed` : result.code === 0 ? `${op} finished first` : `${op} failed`
    if (!result.killed && result.code !== 0) extra.push(`${op} failed without a fault: ${describeRun(result)}`)
    o.log(`  ${target.kind} run ${run}: ${op}, kill at ${delay} ms → ${outcome}`)

    const misleading: string[] = []
    if (op === 'restore' && result.killed) {
      const half = await sha256(restoreOut)
      if (half !== undefined && half !== expected) misleading.push(`half-written export under the asked name ${restoreOut}`)
    }
    let restoreBroken = false
    const restoreLeftovers = async (): Promise<string[]> => {
      if (op !== 'restore') return []
      // A killed export must not leave a file under the asked name that looks like a whole disk image; the next
      // export to the same place replaces whatever the killed one left, and writes the backed-up bytes.
      const again = await exportPoint(kept.id)
      if (again.code !== 0 || (await sha256(restoreOut)) !== expected) {
        restoreBroken = true
        extra.push(again.code !== 0 ? `restore after the kill failed: ${describeRun(again)}` : 'restore after the kill wrote other bytes than were backed up')
      }
      const others = (await readdir(outDir)).filter((f) => f !== path.basename(restoreOut)).map((f) => `file ${path.join(outDir, f)} next to the restored disk`)
      return [...misleading, ...others]
    }
    const found = await aftermath({
      runner,
      target,
      before,
      mayRemove,
      nextBackup: () => backupFile(runner, repo, work, WORK_VM),
      hostLeftovers: restoreLeftovers,
    })
    const after = { ...found, verifyFailed: found.verifyFailed || restoreBroken }
    record(o.row, `${o.where(run)} (${op}, kill at ${delay} ms)`, result.killed, outcome, after, extra)
  }
}
