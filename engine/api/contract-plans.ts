import { z } from 'zod'
import { DEFAULT_CHECK_TIMEOUT_SEC } from './contract-checks'
import { defineChannel } from './contract-core'
import { RetentionPolicySchema } from './contract-repository'
import { PlanCopySchema } from './contract-copies'

/**
 * Backup plans: saved, editable backup jobs (which VMs, how, where, when, how long to keep) that run on a
 * schedule — in the desktop app while it runs, and from `lifeboat run-due` for cron / systemd timers / Task
 * Scheduler — never twice at once.
 */
const Time = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'Use a 24-hour time like 02:30.')

export const ScheduleSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('manual') }),
  z.object({ kind: z.literal('daily'), time: Time }),
  z.object({ kind: z.literal('weekly'), days: z.array(z.number().int().min(0).max(6)).min(1).max(7), time: Time }),
  z.object({ kind: z.literal('cron'), expression: z.string().min(9).max(200) }),
])
export type Schedule = z.infer<typeof ScheduleSchema>

export const PlanTargetSchema = z.object({
  host: z.string().min(1).max(200),
  vm: z.string().min(1).max(300),
  /** Names as seen when the plan was saved, so the plan still reads well if a host is offline. */
  hostName: z.string().max(200).optional(),
  vmName: z.string().max(300).optional(),
})

export const PlanOptionsSchema = z.object({
  quiesce: z.boolean().default(true),
  /** With quiesce: a VM that cannot be quiesced fails its backup instead of being saved crash-consistent. */
  requireQuiesce: z.boolean().default(false),
  shutdownTimeoutSec: z.number().int().min(5).max(24 * 3600).default(300),
  forceOffAfterTimeout: z.boolean().default(false),
  incremental: z.boolean().default(true),
  changeBudgetPercent: z.number().min(1).max(100).optional(),
  preHook: z.string().min(1).max(8192).optional(),
  postHook: z.string().min(1).max(8192).optional(),
})

/**
 * The newest point of each VM of the plan is booted as a temporary VM with no network on this host (a health check,
 * `points.check`): after each successful run (the points it made), or on a schedule of its own. Absent in plans saved
 * before the option existed: no check.
 */
export const PlanCheckSchema = z.object({
  host: z.string().min(1).max(200),
  /** The host's name when the plan was saved, so the plan still reads well if the host is offline or removed. */
  hostName: z.string().max(200).optional(),
  timeoutSec: z.number().int().min(5).max(24 * 3600).default(DEFAULT_CHECK_TIMEOUT_SEC),
  /**
   * Absent (and in plans saved before it existed): after each successful run. Present: only on this schedule, independent
   * of the backups (e.g. weekly, Sunday 03:00), checking the newest point of each VM in the plan's repository.
   */
  schedule: ScheduleSchema.optional(),
})
export type PlanCheck = z.infer<typeof PlanCheckSchema>

export const PlanInputSchema = z.object({
  /** Absent to create a plan; an existing id to change it. */
  id: z.string().min(1).max(100).optional(),
  name: z.string().trim().min(1, 'Give the plan a name.').max(100),
  enabled: z.boolean().default(true),
  targets: z.array(PlanTargetSchema).min(1, 'Choose at least one VM.').max(200),
  mode: z.enum(['cold', 'warm', 'hot']),
  repo: z.string().min(1).max(4096).optional(),
  options: PlanOptionsSchema.default({ quiesce: true, requireQuiesce: false, shutdownTimeoutSec: 300, forceOffAfterTimeout: false, incremental: true }),
  schedule: ScheduleSchema,
  retention: RetentionPolicySchema.optional(),
  /** How many VMs are backed up at the same time. */
  concurrency: z.number().int().min(1).max(8).default(1),
  check: PlanCheckSchema.optional(),
  /** Second repositories each new restore point is copied to after a successful run (3-2-1), each with its own retention. */
  copies: z.array(PlanCopySchema).max(4).optional(),
})
export type PlanInput = z.input<typeof PlanInputSchema>

export const PlanSchema = PlanInputSchema.extend({ id: z.string(), createdAt: z.string(), updatedAt: z.string() })
export type Plan = z.infer<typeof PlanSchema>

/**
 * How the health check after the last run ended: `booted` (every checked point), `failed` (a point did not boot: the
 * run is "backed up, but did not boot", not a failed backup), `error` (no verdict: the host could not be reached…).
 */
export const PlanCheckOutcomeSchema = z.object({
  verdict: z.enum(['booted', 'failed', 'error']),
  /** In plain words, per point: "web01: Booted — the guest agent answered after 14 s". */
  summary: z.string(),
  at: z.string(),
  pointIds: z.array(z.string()),
  jobIds: z.array(z.string()),
})
export type PlanCheckOutcome = z.infer<typeof PlanCheckOutcomeSchema>

export const PlanStatusSchema = z.object({
  lastRunAt: z.string().optional(),
  lastResult: z.enum(['succeeded', 'failed', 'partial', 'cancelled']).optional(),
  lastJobId: z.string().optional(),
  /** The newest health check: after the last run (it backed up every VM), or the last one on the check's own schedule. */
  lastCheck: PlanCheckOutcomeSchema.optional(),
  /** A check on the plan's own check schedule is running now. */
  checking: z.boolean().optional(),
  /** The next times of the check's own schedule (empty when the plan checks after each run, or not at all). */
  nextChecks: z.array(z.string()).optional(),
  /** Scheduled runs that did not happen (Lifeboat was not running) since the last run. */
  missedRuns: z.number(),
  missedSince: z.string().optional(),
  running: z.boolean(),
  nextRuns: z.array(z.string()),
})

export const PlanViewSchema = z.object({ plan: PlanSchema, status: PlanStatusSchema })
export type PlanView = z.infer<typeof PlanViewSchema>

export const plansList = defineChannel('plans.list', z.object({}), z.array(PlanViewSchema), 'Backup plans with their last result, missed runs and next run times.')
export const plansSave = defineChannel('plans.save', PlanInputSchema, PlanViewSchema, 'Create or change a backup plan.')
export const plansDelete = defineChannel('plans.delete', z.object({ id: z.string().min(1).max(100) }), z.object({ id: z.string() }), 'Delete a backup plan (its restore points stay).')
export const plansRun = defineChannel(
  'plans.run',
  z.object({ id: z.string().min(1).max(200) }),
  z.object({ jobId: z.string() }),
  'Run a plan now (a job with one step per VM); refused when it is already running.',
)
export const plansPreview = defineChannel(
  'plans.preview',
  z.object({ schedule: ScheduleSchema, count: z.number().int().min(1).max(20).default(5) }),
  z.object({ nextRuns: z.array(z.string()), cron: z.string().optional() }),
  'The next run times of a schedule (local time), to show before saving.',
)
export const plansRunDue = defineChannel(
  'plans.runDue',
  z.object({}),
  z.object({
    started: z.array(z.object({ planId: z.string(), jobId: z.string(), missedRuns: z.number() })),
    skipped: z.array(z.object({ planId: z.string(), reason: z.string() })),
    /** Boot checks on a plan's own check schedule that were due and started. */
    checks: z.array(z.object({ planId: z.string(), jobId: z.string() })),
  }),
  'Start every plan and every boot check on its own schedule whose time has come (what `lifeboat run-due` and the app’s timer call).',
)
