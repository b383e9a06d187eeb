import { describe, it, type ExpectStatic } from 'vitest'
import { canRunSshHosts } from '../../test-hosts/ssh-host'
import { runCampaign, type CampaignOptions } from './campaign'
import { freshSeed } from './prng'
import { formatTable } from './report'

// The short run of `npm run torture` inside `npm test`: every fault kind a few times, on a local repository and on
// S3 (s3rver behind the fault proxy). ENOSPC and the SSH cut need root (tmpfs, network namespaces) and show up as
// skipped rows without it. The three campaigns below share nothing but the CLI bundle (each has its own temp folder,
// Lifeboat home, repositories, S3 server or SSH host), so they run side by side: much of a campaign is waiting (a
// killed process's delay, S3 answers held back seconds, a link down for seconds), and each draws its faults from the
// same per-fault seeded streams (`kill/local`, `kill/s3`, …) as when they ran one after the other. `npm test` uses a
// fixed seed so that CI runs are comparable; LIFEBOAT_TORTURE_SEED picks another (`random` for a fresh one), and the
// seed is printed so a failing run can be replayed.
const seedSetting = process.env.LIFEBOAT_TORTURE_SEED ?? '20261206'
const seed = seedSetting === 'random' ? freshSeed() : Number(seedSetting)

async function campaign(expect: ExpectStatic, options: Pick<CampaignOptions, 'runs' | 'only' | 'repos'>) {
  const lines: string[] = []
  // Each line is printed as it comes, so a run that stalls on CI shows where; the budget ends the campaign (every
  // later run counts as timed out) well before the test's own timeout would kill it without a report.
  const log = (l: string) => {
    lines.push(l)
    console.log(l)
  }
  const result = await runCampaign({ seed, imageMiB: 16, log, budgetMs: 600_000, ...options })
  const table = formatTable(result.rows)
  console.log(`torture seed ${seed}\n${table}`)
  const failures = result.rows.flatMap((r) => r.failures)
  // The failures themselves first: vitest shortens the compared array to "[ Array(1) ]" in its message.
  expect(failures, `${failures.map((f) => `FAILED ${f}`).join('\n')}\n${lines.join('\n')}\n${table}`).toEqual([])
  const ran = result.rows.filter((r) => r.skipped === undefined)
  for (const row of ran) {
    expect(row.runs).toBe(options.runs)
    expect(row).toMatchObject({ pointsLost: 0, checkFailures: 0, verifyFailures: 0, leftovers: 0, nextBackupOk: options.runs })
  }
  return ran.map((r) => `${r.fault}/${r.repo}`)
}

describe.concurrent('fault campaign (short run)', () => {
  it('kill -9 and ENOSPC on a local repository: no point lost, checks and verify pass, nothing left behind, the next backup works', async ({ expect }) => {
    const ran = await campaign(expect, { runs: 2, only: ['kill', 'enospc'], repos: ['local'] })
    expect(ran).toEqual(expect.arrayContaining(['kill/local']))
  }, 900_000)

  it('kill -9 and S3 faults on an S3 repository: no point lost, checks and verify pass, nothing left behind, the next backup works', async ({ expect }) => {
    expect(await campaign(expect, { runs: 2, only: ['kill', 's3'], repos: ['s3'] })).toEqual(['kill/s3', 's3/s3'])
  }, 900_000)

  it.skipIf(!canRunSshHosts().ok)('an SSH connection cut in the middle of a host backup leaves nothing on the host', async ({ expect }) => {
    expect(await campaign(expect, { runs: 1, only: ['ssh'], repos: ['local'] })).toEqual(['ssh/local'])
  }, 900_000)
})
