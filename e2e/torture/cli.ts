// `npm run torture -- [--runs N] [--seed S] [--only kill,enospc,ssh,s3] [--repos local,sftp,s3] [--image-mib M]`:
// the fault campaign of e2e/torture. Prints the seed first (replay a run with the same --seed and --only/--repos),
// then one table row per fault and repository; exits 1 when any invariant failed.
import { parseArgs } from 'node:util'
import { runCampaign } from './campaign'
import { freshSeed } from './prng'
import { REPO_KINDS, type RepoKind } from './repo-target'
import { FAULT_KINDS, formatOutcomes, formatTable, rowFailed, type FaultKind } from './report'

function listOf<T extends string>(given: string | undefined, allowed: readonly T[], name: string): T[] {
  if (given === undefined) return [...allowed]
  const items = given.split(',').map((s) => s.trim()).filter((s) => s !== '')
  const bad = items.filter((s) => !(allowed as readonly string[]).includes(s))
  if (bad.length > 0 || items.length === 0) throw new Error(`--${name} takes a comma-separated list of ${allowed.join(', ')} (got "${given}").`)
  return items as T[]
}

function whole(given: string | undefined, fallback: number, name: string, max: number): number {
  if (given === undefined) return fallback
  if (!/^\d+$/.test(given) || Number(given) < 1 || Number(given) > max) throw new Error(`--${name} takes a whole number from 1 to ${max}.`)
  return Number(given)
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { runs: { type: 'string' }, seed: { type: 'string' }, only: { type: 'string' }, repos: { type: 'string' }, 'image-mib': { type: 'string' }, help: { type: 'boolean' } },
  })
  if (values.help === true) {
    console.log('npm run torture -- [--runs N (3)] [--seed S] [--only kill,enospc,ssh,s3] [--repos local,sftp,s3] [--image-mib M (32)]')
    return 0
  }
  const seed = values.seed !== undefined ? whole(values.seed, 0, 'seed', 0x7fffffff) : freshSeed()
  const options = {
    seed,
    runs: whole(values.runs, 3, 'runs', 1000),
    only: listOf<FaultKind>(values.only, FAULT_KINDS, 'only'),
    repos: listOf<RepoKind>(values.repos, REPO_KINDS, 'repos'),
    imageMiB: whole(values['image-mib'], 32, 'image-mib', 4096),
    log: (line: string) => console.log(line),
  }
  console.log(`Lifeboat fault campaign: seed ${seed}, ${options.runs} runs per fault, faults ${options.only.join(',')}, repositories ${options.repos.join(',')}`)
  const result = await runCampaign(options)
  console.log(`\nFinished in ${(result.ms / 1000).toFixed(0)} s (seed ${seed}).\n`)
  console.log(formatTable(result.rows))
  console.log(`\nWhat the faulted operations did:\n${formatOutcomes(result.rows)}`)
  const failed = result.rows.filter(rowFailed)
  if (failed.length === 0) {
    console.log('\nEvery invariant held.')
    return 0
  }
  console.log('\nInvariant failures (replay with the seed and options shown):')
  for (const row of failed) for (const f of row.failures) console.log(`  - ${f}`)
  return 1
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`torture: ${err instanceof Error ? err.message : String(err)}`)
    process.exit(2)
  },
)
