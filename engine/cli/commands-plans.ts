import { call } from './cli-call'
import { EXIT_FAILED, EXIT_OK, table } from './cli-io'
import type { Command } from './command'
import { waitForJob } from './wait-for-job'
import { toJobDetailDto } from '../jobs/job-record'
import { z } from 'zod'
import { PlanCheckOutcomeSchema } from '../api/contract-plans'

const PlanCheckResultSchema = z.object({ check: PlanCheckOutcomeSchema })

function describeSchedule(s: { kind: string; time?: string; days?: number[]; expression?: string }): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
  if (s.kind === 'daily') return `daily ${s.time ?? ''}`
  if (s.kind === 'weekly') return `${(s.days ?? []).map((d) => days[d] ?? '?').join(',')} ${s.time ?? ''}`
  if (s.kind === 'cron') return `cron "${s.expression ?? ''}"`
  return 'manual'
}

export const planCommands: Command[] = [
  {
    path: ['run-due'],
    usage: 'lifeboat run-due [--json]',
    summary: 'Run every backup plan and boot check whose time has come and wait for them (for cron, systemd timers, Task Scheduler). Exit 1 if a run failed or a point did not boot.',
    options: {},
    async run(ctx) {
      const engine = await ctx.engine()
      const due = await call(engine.handlers, 'plans.runDue', {}, ctx.signal)
      if (!ctx.io.json) {
        if (due.started.length === 0 && due.checks.length === 0) ctx.io.out('No backup plan or boot check is due.')
        for (const s of due.skipped) ctx.io.err(`lifeboat: plan ${s.planId} skipped: ${s.reason}`)
      }
      const results = []
      for (const s of due.started) {
        if (s.missedRuns > 0 && !ctx.io.json) ctx.io.err(`lifeboat: plan ${s.planId} missed ${s.missedRuns} scheduled run(s); catching up once.`)
        const job = await waitForJob(engine, s.jobId, ctx.io, ctx.signal)
        results.push({ ...s, state: job.state, error: job.error?.message })
        if (!ctx.io.json) ctx.io.out(`${job.title}: ${job.state}${job.error ? ` — ${job.error.message}` : ''}`)
      }
      const checks = []
      for (const c of due.checks) {
        const job = await waitForJob(engine, c.jobId, ctx.io, ctx.signal)
        const verdict = PlanCheckResultSchema.safeParse((await engine.jobs.get(c.jobId)).result)
        const check = verdict.success ? verdict.data.check : undefined
        checks.push({ ...c, state: job.state, verdict: check?.verdict, summary: check?.summary, error: job.error?.message })
        if (!ctx.io.json) ctx.io.out(`${job.title}: ${check ? `${check.verdict} — ${check.summary}` : `${job.state}${job.error ? ` — ${job.error.message}` : ''}`}`)
      }
      // Alerts about these runs go out before the process ends (cron starts a new one next time).
      await engine.scheduler.alertsSent()
      if (ctx.io.json) ctx.io.out(JSON.stringify({ started: results, skipped: due.skipped, checks }, null, 2))
      // A point that did not boot fails the cron job too: that is what the admin must hear about.
      const ok = results.every((r) => r.state === 'succeeded') && checks.every((c) => c.verdict === 'booted') && due.skipped.length === 0
      return ok ? EXIT_OK : EXIT_FAILED
    },
  },
  {
    path: ['plans', 'list'],
    usage: 'lifeboat plans list [--json]',
    summary: 'Backup plans, their last result, missed runs and next runs.',
    options: {},
    async run(ctx) {
      const plans = await call((await ctx.engine()).handlers, 'plans.list', {}, ctx.signal)
      if (ctx.io.json) ctx.io.out(JSON.stringify(plans, null, 2))
      else if (plans.length === 0) ctx.io.out('No backup plans yet.')
      else
        ctx.io.out(
          table(
            plans.map(({ plan, status }) => [
              plan.name,
              plan.enabled ? describeSchedule(plan.schedule) : 'disabled',
              `${plan.targets.length} VM(s), ${plan.mode}`,
              status.running ? 'running' : (status.lastResult ?? '—') + (status.missedRuns > 0 ? ` (missed ${status.missedRuns})` : ''),
              status.nextRuns[0]?.replace('T', ' ').slice(0, 16) ?? '—',
            ]),
            ['PLAN', 'SCHEDULE', 'WHAT', 'LAST RESULT', 'NEXT (UTC)'],
          ),
        )
      return EXIT_OK
    },
  },
  {
    path: ['plans', 'run'],
    usage: 'lifeboat plans run NAME|ID [--json]',
    summary: 'Run a backup plan now and wait for it.',
    options: {},
    positionals: { min: 1, max: 1 },
    async run(ctx) {
      const engine = await ctx.engine()
      const { jobId } = await call(engine.handlers, 'plans.run', { id: ctx.positionals[0] ?? '' }, ctx.signal)
      const job = await waitForJob(engine, jobId, ctx.io, ctx.signal)
      if (ctx.io.json) ctx.io.out(JSON.stringify(toJobDetailDto(await engine.jobs.get(jobId)), null, 2))
      else ctx.io.out(`${job.title}: ${job.state}${job.error ? ` — ${job.error.message}` : ''}`)
      return job.state === 'succeeded' ? EXIT_OK : EXIT_FAILED
    },
  },
]
