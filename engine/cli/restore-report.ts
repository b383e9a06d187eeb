import { z } from 'zod'
import type { JobDetailDto } from '../api/contract-jobs'
import { notRestoredCountLine, notRestoredLine, renamedLine, type RestoreOutcome } from '../browse/restore-outcome'
import { EXIT_FAILED, EXIT_PARTIAL, EXIT_OK, type CliIo } from './cli-io'

/** Items named on the summary line; the rest are counted (all of them are in --json). */
const NAMED = 3

const ItemLists = z.object({
  notRestored: z.array(z.object({ path: z.string(), reason: z.string() })).catch([]),
  renames: z.array(z.object({ path: z.string(), to: z.string() })).catch([]),
})

/** The outcome from the job record, when this process no longer has the full one (its lists are the first items). */
export function outcomeFromJob(job: JobDetailDto): RestoreOutcome {
  const parsed = ItemLists.safeParse(job.result)
  return parsed.success ? parsed.data : { notRestored: [], renames: [] }
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`
}

/** One line: how many items were left out or renamed, and the first few with the reason. */
export function summaryLine(outcome: RestoreOutcome): string {
  const { notRestored, renames } = outcome
  const counts = [
    notRestored.length > 0 ? `${plural(notRestored.length, 'item was', 'items were')} not restored` : '',
    renames.length > 0 ? `${plural(renames.length, 'item was', 'items were')} restored under another name` : '',
  ].filter((c) => c !== '')
  const named = [...notRestored.map((i) => `${i.path}: ${i.reason}`), ...renames.map((i) => `${i.path} as "${i.to}": the name cannot be used here`)]
  const more = named.length - NAMED
  return `lifeboat: the restore finished, but not everything as it was: ${counts.join(' and ')} — ${named.slice(0, NAMED).join('; ')}${more > 0 ? `; and ${more} more (all of them with --json)` : ''}.`
}

/**
 * Ends `image get` / `files get`: the job's log and outcome on stderr (or everything as one JSON document), and the
 * exit code a script can rely on — 0 only when everything asked for was restored as it is.
 */
export function reportRestore(io: CliIo, job: JobDetailDto, outcome: RestoreOutcome, toDirectory: string): number {
  // The summary line below replaces the job log's line per item (a hostile image can make thousands).
  const perItem = new Set([...outcome.notRestored.map(notRestoredLine), ...outcome.renames.map(renamedLine), notRestoredCountLine(outcome.notRestored.length)])
  // The runner logs the error that ended the job; it is printed once, below, as the command's own last word.
  if (job.error !== undefined && job.state === 'failed') perItem.add(job.error.message)
  if (io.json) io.out(JSON.stringify({ ...job, notRestored: outcome.notRestored, renames: outcome.renames }, null, 2))
  else for (const line of job.log) if ((line.level !== 'info' || line.message.includes(' files, ')) && !perItem.has(line.message)) io.err(`  ${line.message}`)
  if (job.state === 'cancelled') {
    io.err(`lifeboat: cancelled; the restore into ${toDirectory} was stopped and its cleanup has run.`)
    if (job.leftBehind.length === 0) io.err(`  Nothing was written to ${toDirectory}.`)
    for (const l of job.leftBehind) io.err(`  left behind: ${l}`)
    return EXIT_FAILED
  }
  if (job.state !== 'succeeded') {
    io.err(`lifeboat: ${job.error?.message ?? `the restore ${job.state}`}`)
    for (const l of job.leftBehind) io.err(`  left behind: ${l}`)
    return EXIT_FAILED
  }
  if (outcome.notRestored.length === 0 && outcome.renames.length === 0) return EXIT_OK
  io.err(summaryLine(outcome))
  return EXIT_PARTIAL
}
