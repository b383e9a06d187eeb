/**
 * ENOSPC: the repository's filesystem (a 64 MiB tmpfs; for SFTP one the SSH host sees) is filled up to a random
 * few MiB, then a backup bigger than what is left runs. It must fail with NO_SPACE and a message that says so,
 * leave no restore point behind, keep the earlier ones whole; once the filler is gone the next backup succeeds.
 */
import { mkdir, rm, statfs } from 'node:fs/promises'
import path from 'node:path'
import { run } from '../../test-hosts/run'
import { aftermath, backupFile, listPoints } from './aftermath'
import type { FaultRunOptions } from './environment'
import { changedCopy, MiB, randomImage } from './images'
import { describeRun, jsonOf } from './lifeboat-process'
import { record } from './report'

export interface EnospcOptions extends FaultRunOptions {
  /** The mounted small filesystem the repository lives on. */
  readonly mount: string
}

export async function enospcCampaign(o: EnospcOptions): Promise<void> {
  const { env, target, prng } = o
  const runner = env.runner
  const repo = target.location
  const scratch = path.join(env.dir, 'enospc', target.kind)
  await mkdir(scratch, { recursive: true })
  const small = await randomImage(path.join(scratch, 'small.img'), 8)
  const big = await randomImage(path.join(scratch, 'big.img'), 48)
  const first = await backupFile(runner, repo, small, 'torture-keep')
  if (first.code !== 0) throw new Error(`first backup (setup) failed: ${describeRun(first)}`)
  const filler = path.join(o.mount, 'filler')

  for (let run_ = 1; run_ <= o.runs; run_++) {
    const before = await listPoints(runner, repo)
    const leaveMiB = prng.int(1, 24)
    const s = await statfs(o.mount)
    const free = s.bavail * s.bsize
    const fill = Math.max(0, free - leaveMiB * MiB)
    await run('fallocate', ['-l', String(fill), filler])
    const result = await backupFile(runner, repo, big, 'torture-big')
    const error = (jsonOf(result) as { error?: { code?: string; message?: string } } | undefined)?.error
    const extra: string[] = []
    let outcome: string
    if (result.code === 0) outcome = 'backup fitted'
    else if (error?.code === 'NO_SPACE' && /full/i.test(error.message ?? '')) outcome = 'NO_SPACE, said so'
    else {
      outcome = `failed with ${error?.code ?? 'no error code'}`
      extra.push(`the backup into a full repository failed without a clear NO_SPACE error: ${describeRun(result)} ${error?.message ?? ''}`)
    }
    if (result.code !== 0) {
      const now = new Set((await listPoints(runner, repo)).map((p) => p.id))
      const added = [...now].filter((id) => !before.some((p) => p.id === id))
      if (added.length > 0) extra.push(`the failed backup left restore point(s) ${added.join(', ')}`)
    }
    o.log(`  ${target.kind} run ${run_}: ${leaveMiB} MiB left → ${outcome}`)
    const next = await changedCopy(small, path.join(scratch, 'next.img'), 8, 1, prng)
    const after = await aftermath({
      runner,
      target,
      before,
      beforeNextBackup: async () => {
        await rm(filler, { force: true })
        // What an admin does after a full disk: drop the failed backup's chunks, then back up again.
        await runner.run(['repo', 'gc', '--repo', repo], { timeoutMs: 300_000 })
      },
      nextBackup: () => backupFile(runner, repo, next, 'torture-next'),
    })
    record(o.row, `${o.where(run_)} (${leaveMiB} MiB left)`, result.code !== 0, outcome, after, extra)
    // Keep the small filesystem from filling up with the campaign's own successful backups.
    await runner.run(['repo', 'prune', '--keep-last', '1', '--repo', repo], { timeoutMs: 120_000 })
    await runner.run(['repo', 'gc', '--repo', repo], { timeoutMs: 300_000 })
  }
  await rm(filler, { force: true })
}
