import type { BackupResult } from '../jobs/backup-job'
import { locationFromCommandLine } from '../repository-access/location'
import { call } from './cli-call'
import { pointStatsLine } from './point-stats-line'
import { EXIT_FAILED, EXIT_OK, UsageError, type CliIo } from './cli-io'
import { flag, str, type Command, type CommandContext } from './command'
import { waitForJob } from './wait-for-job'
import { toJobDetailDto } from '../jobs/job-record'

/** Follows a job the command started; prints its result (one JSON document with --json). Exit 1 unless it succeeded. */
export async function followJob(ctx: CommandContext, jobId: string, print: (result: unknown, io: CliIo) => void): Promise<number> {
  const engine = await ctx.engine()
  const job = await waitForJob(engine, jobId, ctx.io, ctx.signal)
  const detail = toJobDetailDto(await engine.jobs.get(jobId))
  for (const line of detail.log.filter((l) => l.level !== 'info')) if (!ctx.io.json) ctx.io.err(`  ${line.level}: ${line.message}`)
  if (job.state !== 'succeeded') {
    if (ctx.io.json) ctx.io.out(JSON.stringify({ error: job.error ?? { code: 'CANCELLED', message: 'The job was cancelled.', params: {} }, leftBehind: job.leftBehind, jobId }, null, 2))
    else {
      ctx.io.err(`lifeboat: ${job.error?.message ?? `the job was ${job.state}`}`)
      for (const l of job.leftBehind) ctx.io.err(`  left behind: ${l}`)
    }
    return EXIT_FAILED
  }
  print(detail.result, ctx.io)
  return EXIT_OK
}

function seconds(ctx: CommandContext, name: string, unit: number): number | undefined {
  const v = str(ctx, name)
  if (v === undefined) return undefined
  if (!/^\d+(\.\d+)?$/.test(v)) throw new UsageError(`--${name} takes a number.`)
  return Math.round(Number(v) * unit)
}

export const backupCommands: Command[] = [
  {
    path: ['backup'],
    usage:
      'lifeboat backup --host H --vm NAME --mode cold|warm|hot [--repo LOCATION] [--no-quiesce | --require-quiesce] [--full] [--shutdown-timeout SEC] [--force-off-after MIN] [--change-budget PCT] [--pre CMD] [--post CMD] [--json]',
    summary: 'Back up a VM of a saved host; with --json the restore point (with its id) is printed as one JSON document.',
    options: {
      host: { type: 'string' },
      vm: { type: 'string' },
      mode: { type: 'string' },
      repo: { type: 'string' },
      'no-quiesce': { type: 'boolean' },
      'require-quiesce': { type: 'boolean' },
      full: { type: 'boolean' },
      'shutdown-timeout': { type: 'string' },
      'force-off-after': { type: 'string' },
      'change-budget': { type: 'string' },
      pre: { type: 'string' },
      post: { type: 'string' },
    },
    async run(ctx) {
      const host = str(ctx, 'host')
      const vm = str(ctx, 'vm')
      const mode = str(ctx, 'mode')
      if (host === undefined || vm === undefined) throw new UsageError('--host and --vm are required.')
      if (mode !== 'cold' && mode !== 'warm' && mode !== 'hot') throw new UsageError('--mode must be cold, warm or hot.')
      if (flag(ctx, 'no-quiesce') && flag(ctx, 'require-quiesce')) throw new UsageError('--no-quiesce and --require-quiesce contradict each other.')
      const forceAfter = seconds(ctx, 'force-off-after', 60)
      const timeout = forceAfter ?? seconds(ctx, 'shutdown-timeout', 1)
      const budget = seconds(ctx, 'change-budget', 1)
      const repo = str(ctx, 'repo')
      const pre = str(ctx, 'pre')
      const post = str(ctx, 'post')
      const engine = await ctx.engine()
      const { jobId } = await call(
        engine.handlers,
        'backup.start',
        {
          host,
          vm,
          mode,
          quiesce: !flag(ctx, 'no-quiesce'),
          requireQuiesce: flag(ctx, 'require-quiesce'),
          incremental: !flag(ctx, 'full'),
          forceOffAfterTimeout: forceAfter !== undefined,
          ...(timeout !== undefined ? { shutdownTimeoutSec: timeout } : {}),
          ...(budget !== undefined ? { changeBudgetPercent: budget } : {}),
          ...(repo !== undefined ? { repo: locationFromCommandLine(repo) } : {}),
          ...(pre !== undefined ? { preHook: pre } : {}),
          ...(post !== undefined ? { postHook: post } : {}),
        },
        ctx.signal,
      )
      return await followJob(ctx, jobId, (result, io) => {
        const p = result as BackupResult
        if (io.json) io.out(JSON.stringify(p, null, 2))
        else {
          io.out(`Restore point ${p.id} (${p.consistency}): ${pointStatsLine(p.stats)}`)
          for (const r of p.reads) io.out(r.read === 'incremental' ? `  ${r.disk}: incremental, only what changed since ${r.base}` : `  ${r.disk}: whole disk read. ${r.reason}`)
        }
      })
    },
  },
  {
    path: ['restore'],
    usage: 'lifeboat restore POINT --to-host H [--as NAME] [--start] [--repo LOCATION] [--storage DIR] [--in-place --yes] [--json]',
    summary: 'Restore a whole VM from a restore point to a saved host: as a new VM (new name, UUID and MACs), or in place with --in-place --yes.',
    options: { 'to-host': { type: 'string' }, as: { type: 'string' }, start: { type: 'boolean' }, repo: { type: 'string' }, storage: { type: 'string' }, 'in-place': { type: 'boolean' }, yes: { type: 'boolean' } },
    positionals: { min: 1, max: 1 },
    async run(ctx) {
      const toHost = str(ctx, 'to-host')
      if (toHost === undefined) throw new UsageError('--to-host is required.')
      if (flag(ctx, 'in-place') && !flag(ctx, 'yes')) throw new UsageError('--in-place overwrites the VM\'s disks; add --yes to confirm (the VM must be shut off).')
      const as = str(ctx, 'as')
      const repo = str(ctx, 'repo')
      const storage = str(ctx, 'storage')
      const engine = await ctx.engine()
      const { jobId } = await call(
        engine.handlers,
        'restore.start',
        {
          point: ctx.positionals[0] ?? '',
          toHost,
          start: flag(ctx, 'start'),
          inPlace: flag(ctx, 'in-place'),
          confirm: flag(ctx, 'yes'),
          ...(as !== undefined ? { as } : {}),
          ...(repo !== undefined ? { repo: locationFromCommandLine(repo) } : {}),
          ...(storage !== undefined ? { storageDir: storage } : {}),
        },
        ctx.signal,
      )
      return await followJob(ctx, jobId, (result, io) => {
        const r = result as { name: string; vmId: string; started: boolean; disks: { name: string; path: string; format: string }[] }
        if (io.json) io.out(JSON.stringify(r, null, 2))
        else io.out(`Restored as ${r.name} (${r.vmId})${r.started ? ', running' : ''}:\n${r.disks.map((d) => `  ${d.name}: ${d.path} (${d.format})`).join('\n')}`)
      })
    },
  },
]
