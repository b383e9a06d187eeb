/**
 * The fault campaign: for each fault kind and repository kind, a few runs of the fault, each followed by the same
 * checks (aftermath.ts), summed into one row per pair. Everything random comes from one seed.
 */
import path from 'node:path'
import { startEnvironment } from './environment'
import { enospcCampaign } from './fault-enospc'
import { killCampaign } from './fault-kill'
import { s3Campaign } from './fault-s3'
import { sshCampaign } from './fault-ssh'
import { Prng } from './prng'
import type { RepoKind } from './repo-target'
import { newRow, type FaultKind, type FaultRow } from './report'
import { missingFor, newTarget } from './targets'

export interface CampaignOptions {
  readonly seed: number
  readonly runs: number
  readonly only: readonly FaultKind[]
  readonly repos: readonly RepoKind[]
  /** Size of the images backed up and of the SSH host's VM disk, in MiB. */
  readonly imageMiB: number
  readonly log: (line: string) => void
  /** Wall-clock budget: past it every `lifeboat` run is cut short as timed out, so the campaign ends and reports. */
  readonly budgetMs?: number
}

export interface CampaignResult {
  readonly rows: readonly FaultRow[]
  readonly ms: number
}

const isRoot = process.getuid?.() === 0

export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const started = Date.now()
  const { seed, runs, log } = options
  const wants = (f: FaultKind) => options.only.includes(f)
  const wantSsh = (wants('ssh') || ((wants('kill') || wants('enospc')) && options.repos.includes('sftp'))) && isRoot
  const wantS3 = wants('s3') || (wants('kill') && options.repos.includes('s3'))
  await using env = await startEnvironment({ wantS3, wantSsh, vmDiskMiB: options.imageMiB * 2, prng: Prng.derive(seed, 's3-proxy'), log, ...(options.budgetMs !== undefined ? { deadlineAt: started + options.budgetMs } : {}) })
  const rows: FaultRow[] = []
  const where = (fault: FaultKind, repo: string) => (run: number) => `--seed ${seed} --only ${fault} --repos ${repo}, run ${run}`
  const guard = async (row: FaultRow, body: () => Promise<void>): Promise<void> => {
    rows.push(row)
    log(`${row.fault} on ${row.repo}:`)
    try {
      await body()
    } catch (err) {
      // A campaign that cannot even set up (or crashes itself) fails loudly rather than reporting clean figures.
      row.failures.push(`${row.fault}/${row.repo} stopped: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
      log(`  stopped: ${err instanceof Error ? err.message : String(err)}`)
    }
  }
  const skip = (fault: FaultKind, repo: string, reason: string) => {
    const row = newRow(fault, repo)
    row.skipped = reason
    rows.push(row)
    log(`${fault} on ${repo}: skipped (${reason})`)
  }

  if (wants('kill'))
    for (const repo of options.repos) {
      const missing = missingFor(env, repo)
      if (missing !== undefined) {
        skip('kill', repo, missing)
        continue
      }
      const row = newRow('kill', repo)
      await guard(row, async () =>
        killCampaign({ env, target: await newTarget(env, repo, `kill-${repo}`), prng: Prng.derive(seed, `kill/${repo}`), runs, imageMiB: options.imageMiB, row, where: where('kill', repo), log }),
      )
    }
  if (wants('enospc'))
    for (const repo of options.repos.filter((r) => r !== 's3')) {
      if (!isRoot) {
        skip('enospc', repo, 'needs root (tmpfs mount)')
        continue
      }
      const missing = missingFor(env, repo)
      if (missing !== undefined) {
        skip('enospc', repo, missing)
        continue
      }
      const row = newRow('enospc', repo)
      await guard(row, async () => {
        const mount = repo === 'sftp' && env.ssh !== undefined ? env.ssh.smallFs : await env.mountTmpfs('small-local', 64)
        const target = await newTarget(env, repo, `enospc-${repo}`, path.join(mount, 'repo'))
        await enospcCampaign({ env, target, mount, prng: Prng.derive(seed, `enospc/${repo}`), runs, row, where: where('enospc', repo), log })
      })
    }
  if (wants('ssh')) {
    const ssh = env.ssh
    if (ssh === undefined) skip('ssh', 'local', env.sshMissing ?? 'no SSH test host')
    else {
      const row = newRow('ssh', 'local')
      await guard(row, async () =>
        sshCampaign({ env, ssh, target: await newTarget(env, 'local', 'ssh-local'), prng: Prng.derive(seed, 'ssh/local'), runs, row, where: where('ssh', 'local'), log }),
      )
    }
  }
  if (wants('s3')) {
    const s3 = env.s3
    if (s3 === undefined) skip('s3', 's3', 'no S3 server')
    else {
      const row = newRow('s3', 's3')
      await guard(row, async () =>
        s3Campaign({ env, proxy: s3.proxy, target: await newTarget(env, 's3', 's3-faults'), prng: Prng.derive(seed, 's3/s3'), runs, imageMiB: options.imageMiB, row, where: where('s3', 's3'), log }),
      )
    }
  }
  return { rows, ms: Date.now() - started }
}
