import { setTimeout as sleep } from 'node:timers/promises'
import type { JobDto } from '../api/contract-jobs'
import { call } from './cli-call'
import { EXIT_FAILED, EXIT_OK, formatBytes, table } from './cli-io'
import { flag, str, type Command } from './command'
import { finished, waitForJob } from './wait-for-job'

export const vmCommands: Command[] = [
  {
    path: ['vm', 'list'],
    usage: 'lifeboat vm list [--host NAME] [--json]',
    summary: 'List the VMs of every saved host (or of one), asking the hosts now.',
    options: { host: { type: 'string' } },
    async run(ctx) {
      const host = str(ctx, 'host')
      const result = await call((await ctx.engine()).handlers, 'vms.list', host !== undefined ? { host } : {}, ctx.signal)
      if (ctx.io.json) ctx.io.out(JSON.stringify(result.vms, null, 2))
      else if (result.vms.length === 0) ctx.io.out(result.errors.length > 0 ? 'No VMs could be listed.' : 'No VMs found.')
      else
        ctx.io.out(
          table(
            result.vms.map((vm) => [vm.host, vm.name, vm.powerState, vm.cpus?.toString() ?? '-', formatBytes(vm.memoryBytes), String(vm.disks.length)]),
            ['HOST', 'VM', 'STATE', 'CPUS', 'MEMORY', 'DISKS'],
          ),
        )
      for (const e of result.errors) ctx.io.err(`lifeboat: ${e.host}: ${e.error.message}`)
      return result.errors.length > 0 ? EXIT_FAILED : EXIT_OK
    },
  },
]

export const jobCommands: Command[] = [
  {
    path: ['jobs', 'list'],
    usage: 'lifeboat jobs list [--limit N] [--json]',
    summary: 'Running and recent jobs, newest first.',
    options: { limit: { type: 'string' } },
    async run(ctx) {
      const limit = Number(str(ctx, 'limit') ?? '50')
      const jobs = await call((await ctx.engine()).handlers, 'jobs.list', { limit }, ctx.signal)
      if (ctx.io.json) ctx.io.out(JSON.stringify(jobs, null, 2))
      else if (jobs.length === 0) ctx.io.out('No jobs yet.')
      else ctx.io.out(table(jobs.map((j) => [j.id, j.state, j.createdAt, j.title]), ['ID', 'STATE', 'CREATED', 'TITLE']))
      return EXIT_OK
    },
  },
  {
    path: ['jobs', 'show'],
    usage: 'lifeboat jobs show ID [--json]',
    summary: 'One job with its log.',
    options: {},
    positionals: { min: 1, max: 1 },
    async run(ctx) {
      const job = await call((await ctx.engine()).handlers, 'jobs.get', { jobId: ctx.positionals[0] ?? '' }, ctx.signal)
      if (ctx.io.json) ctx.io.out(JSON.stringify(job, null, 2))
      else {
        ctx.io.out(`${job.title}\n  state: ${job.state}\n  created: ${job.createdAt}${job.error ? `\n  error: ${job.error.message}` : ''}`)
        if (job.steps.length > 0) ctx.io.out(`  steps:\n${job.steps.map((s) => `    ${s.state.padEnd(9)} ${s.label}`).join('\n')}`)
        if (job.leftBehind.length > 0) ctx.io.out(`  left behind:\n${job.leftBehind.map((l) => `    - ${l}`).join('\n')}`)
        if (job.retryable === true && (job.state === 'failed' || job.state === 'cancelled')) ctx.io.out(`  run it again: lifeboat jobs retry ${job.id}`)
        for (const line of job.log) ctx.io.out(`  ${line.at} ${line.level.padEnd(5)} ${line.message}`)
      }
      return EXIT_OK
    },
  },
  {
    path: ['jobs', 'cancel'],
    usage: 'lifeboat jobs cancel ID [--wait] [--json]',
    summary: 'Ask a running job to stop and clean up — also one the desktop app or another command runs. --wait: until it has.',
    options: { wait: { type: 'boolean' } },
    positionals: { min: 1, max: 1 },
    async run(ctx) {
      const engine = await ctx.engine()
      const jobId = ctx.positionals[0] ?? ''
      let job: JobDto = await call(engine.handlers, 'jobs.cancel', { jobId }, ctx.signal)
      if (flag(ctx, 'wait') && !finished.has(job.state)) {
        if (!ctx.io.json) ctx.io.err(`Cancel requested; waiting for "${job.title}" to clean up and stop…`)
        // The job may run in another process (the app): follow its record, not this process's events.
        while (!finished.has(job.state)) {
          await sleep(500, undefined, { signal: ctx.signal })
          job = await call(engine.handlers, 'jobs.get', { jobId }, ctx.signal)
        }
      }
      if (ctx.io.json) ctx.io.out(JSON.stringify(job, null, 2))
      else {
        ctx.io.out(`${job.title}: ${job.state}`)
        for (const l of job.leftBehind) ctx.io.err(`lifeboat: left behind: ${l}`)
      }
      return EXIT_OK
    },
  },
  {
    path: ['jobs', 'retry'],
    usage: 'lifeboat jobs retry ID [--json]',
    summary: 'Start a finished job again with the same request and follow it to the end.',
    options: {},
    positionals: { min: 1, max: 1 },
    async run(ctx) {
      const engine = await ctx.engine()
      const { jobId } = await call(engine.handlers, 'jobs.retry', { jobId: ctx.positionals[0] ?? '' }, ctx.signal)
      if (!ctx.io.json) ctx.io.err(`Started again as job ${jobId}.`)
      const job = await waitForJob(engine, jobId, ctx.io, ctx.signal)
      if (ctx.io.json) ctx.io.out(JSON.stringify(job, null, 2))
      else {
        ctx.io.out(`${job.title}: ${job.state}${job.error && job.state !== 'succeeded' ? ` — ${job.error.message}` : ''}`)
        for (const l of job.leftBehind) ctx.io.err(`lifeboat: left behind: ${l}`)
      }
      return job.state === 'succeeded' ? EXIT_OK : EXIT_FAILED
    },
  },
  {
    path: ['info'],
    usage: 'lifeboat info [--json]',
    summary: 'Version, data folder and how credentials are protected.',
    options: {},
    async run(ctx) {
      const info = await call((await ctx.engine()).handlers, 'app.info', {}, ctx.signal)
      if (ctx.io.json) ctx.io.out(JSON.stringify(info, null, 2))
      else ctx.io.out(`Lifeboat ${info.version}\n  data folder: ${info.home}\n  credentials: ${info.secretsProtection}`)
      return EXIT_OK
    },
  },
]
