/**
 * S3 misbehaving: through the fault proxy a random share of requests gets 500, 503 SlowDown (with Retry-After),
 * an answer seconds late, or a reset connection, while a backup or a restore runs. The operation may succeed
 * (the client retries) or fail with a clear error; either way, once S3 behaves again, nothing is lost or damaged
 * and the next backup works.
 */
import { mkdir, rm } from 'node:fs/promises'
import path from 'node:path'
import { aftermath, backupFile, listPoints } from './aftermath'
import type { FaultRunOptions } from './environment'
import { changedCopy, randomImage, sha256 } from './images'
import { describeRun, jsonOf, type RunResult } from './lifeboat-process'
import { record } from './report'
import { describeS3Fault, drawS3Fault, type S3FaultProxy } from './s3-fault-proxy'

export interface S3Options extends FaultRunOptions {
  readonly proxy: S3FaultProxy
  readonly imageMiB: number
}

export async function s3Campaign(o: S3Options): Promise<void> {
  const { env, target, prng, proxy } = o
  const runner = env.runner
  const repo = target.location
  const scratch = path.join(env.dir, 's3-faults')
  await mkdir(scratch, { recursive: true })
  const pristine = await randomImage(path.join(scratch, 'pristine.img'), o.imageMiB)
  const first = await backupFile(runner, repo, pristine, 'torture-keep')
  if (first.code !== 0) throw new Error(`first backup (setup) failed: ${describeRun(first)}`)
  const kept = (jsonOf(first) as { id: string }).id
  const expected = await sha256(pristine)
  const out = path.join(scratch, 'restored.raw')

  for (let n = 1; n <= o.runs; n++) {
    const before = await listPoints(runner, repo)
    const fault = drawS3Fault(prng)
    const op = prng.pick(['backup', 'backup', 'restore'] as const)
    const work = await changedCopy(pristine, path.join(scratch, 'work.img'), o.imageMiB, prng.int(2, 6), prng)
    const faultsBefore = proxy.stats.faults
    const requestsBefore = proxy.stats.requests
    proxy.setFault(fault)
    let result: RunResult
    const extra: string[] = []
    try {
      if (op === 'backup') result = await backupFile(runner, repo, work, 'torture-vm')
      else {
        await rm(out, { force: true })
        result = await runner.run(['points', 'export', kept, '--disk', '0', '--format', 'raw', '--out', out, '--repo', repo], { timeoutMs: 300_000 })
      }
    } finally {
      proxy.setFault({ kind: 'none' })
    }
    const injected = proxy.stats.faults - faultsBefore
    const error = (jsonOf(result) as { error?: { code?: string; message?: string } } | undefined)?.error
    if (result.timedOut) extra.push(`the ${op} hung: ${describeRun(result)}`)
    else if (result.code !== 0 && (error?.message ?? '').trim() === '') extra.push(`the ${op} failed without saying why: ${describeRun(result)}`)
    if (op === 'restore' && result.code === 0 && (await sha256(out)) !== expected) extra.push('the restore under S3 faults wrote other bytes than were backed up')
    const outcome = `${op} ${result.code === 0 ? 'ok' : `failed (${error?.code ?? 'no code'})`}`
    o.log(`  s3 run ${n}: ${describeS3Fault(fault)} during ${op} (${injected} of ${proxy.stats.requests - requestsBefore} requests hit) → ${outcome}${result.code !== 0 ? `: ${error?.message?.slice(0, 200) ?? ''}` : ''}`)
    const after = await aftermath({ runner, target, before, nextBackup: () => backupFile(runner, repo, work, 'torture-vm') })
    record(o.row, `${o.where(n)} (${describeS3Fault(fault)} during ${op})`, injected > 0, outcome, after, extra)
    await runner.run(['repo', 'prune', '--keep-last', '2', '--repo', repo], { timeoutMs: 120_000 })
  }
}
