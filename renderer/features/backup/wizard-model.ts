import type { PlanInput, PlanView, Schedule } from '../../../engine/api/contract'

export type WizardStep = 'vms' | 'mode' | 'destination' | 'when' | 'options' | 'review'
export const wizardSteps: readonly WizardStep[] = ['vms', 'mode', 'destination', 'when', 'options', 'review']

export interface Target {
  readonly host: string
  readonly vm: string
  readonly hostName: string
  readonly vmName: string
}

export interface Draft {
  id?: string
  name: string
  targets: Target[]
  mode: 'cold' | 'warm' | 'hot'
  repo: { kind: 'default' } | { kind: 'other'; location: string; create: boolean; passphrase: string; passphrase2: string }
  when: 'now' | 'schedule'
  schedule: Schedule
  retention: { keepLast: string; keepDaily: string; keepWeekly: string; keepMonthly: string }
  quiesce: boolean
  requireQuiesce: boolean
  shutdownTimeoutMin: string
  forceOff: boolean
  incremental: boolean
  preHook: string
  postHook: string
  concurrency: string
  /** Boot the newest points on `checkHost` (a temporary VM without network). Off by default. */
  check: boolean
  checkHost: string
  checkHostName: string
  checkTimeoutMin: string
  /** After each successful run, or on `checkSchedule` of its own (e.g. weekly on Sunday night, when the host is idle). */
  checkWhen: 'after-run' | 'schedule'
  checkSchedule: Exclude<Schedule, { kind: 'manual' }>
}

const DEFAULT_CHECK_SCHEDULE: Draft['checkSchedule'] = { kind: 'weekly', days: [0], time: '03:00' }

export function newDraft(targets: Target[]): Draft {
  return {
    name: targets.length === 1 ? `Back up ${targets[0]?.vmName ?? ''}` : `Back up ${targets.length} VMs`,
    targets,
    mode: 'hot',
    repo: { kind: 'default' },
    when: 'schedule',
    schedule: { kind: 'daily', time: '02:00' },
    retention: { keepLast: '', keepDaily: '7', keepWeekly: '4', keepMonthly: '6' },
    quiesce: true,
    requireQuiesce: false,
    shutdownTimeoutMin: '5',
    forceOff: false,
    incremental: true,
    preHook: '',
    postHook: '',
    concurrency: '1',
    check: false,
    checkHost: '',
    checkHostName: '',
    checkTimeoutMin: '10',
    checkWhen: 'after-run',
    checkSchedule: DEFAULT_CHECK_SCHEDULE,
  }
}

const asText = (n: number | undefined) => (n === undefined ? '' : String(n))

export function draftFromPlan({ plan }: PlanView, names: (host: string, vm: string) => { hostName: string; vmName: string }): Draft {
  return {
    id: plan.id,
    name: plan.name,
    targets: plan.targets.map((t) => ({ host: t.host, vm: t.vm, ...names(t.host, t.vm), ...(t.hostName ? { hostName: t.hostName } : {}), ...(t.vmName ? { vmName: t.vmName } : {}) })),
    mode: plan.mode,
    repo: plan.repo === undefined ? { kind: 'default' } : { kind: 'other', location: plan.repo, create: false, passphrase: '', passphrase2: '' },
    when: plan.schedule.kind === 'manual' ? 'now' : 'schedule',
    schedule: plan.schedule.kind === 'manual' ? { kind: 'daily', time: '02:00' } : plan.schedule,
    retention: {
      keepLast: asText(plan.retention?.keepLast),
      keepDaily: asText(plan.retention?.keepDaily),
      keepWeekly: asText(plan.retention?.keepWeekly),
      keepMonthly: asText(plan.retention?.keepMonthly),
    },
    quiesce: plan.options.quiesce,
    requireQuiesce: plan.options.quiesce && plan.options.requireQuiesce,
    shutdownTimeoutMin: String(Math.round(plan.options.shutdownTimeoutSec / 60)),
    forceOff: plan.options.forceOffAfterTimeout,
    incremental: plan.options.incremental,
    preHook: plan.options.preHook ?? '',
    postHook: plan.options.postHook ?? '',
    concurrency: String(plan.concurrency),
    check: plan.check !== undefined,
    checkHost: plan.check?.host ?? '',
    checkHostName: plan.check?.hostName ?? '',
    checkTimeoutMin: plan.check !== undefined ? String(Math.max(1, Math.round(plan.check.timeoutSec / 60))) : '10',
    checkWhen: plan.check?.schedule !== undefined ? 'schedule' : 'after-run',
    checkSchedule: plan.check?.schedule !== undefined && plan.check.schedule.kind !== 'manual' ? plan.check.schedule : DEFAULT_CHECK_SCHEDULE,
  }
}

function count(text: string): number | undefined {
  const t = text.trim()
  return /^\d{1,4}$/.test(t) ? Number(t) : undefined
}

/** The plan the contract receives. */
export function toPlanInput(d: Draft): PlanInput {
  const retention = {
    ...(count(d.retention.keepLast) ? { keepLast: count(d.retention.keepLast) } : {}),
    ...(count(d.retention.keepDaily) ? { keepDaily: count(d.retention.keepDaily) } : {}),
    ...(count(d.retention.keepWeekly) ? { keepWeekly: count(d.retention.keepWeekly) } : {}),
    ...(count(d.retention.keepMonthly) ? { keepMonthly: count(d.retention.keepMonthly) } : {}),
  }
  return {
    ...(d.id !== undefined ? { id: d.id } : {}),
    name: d.name.trim(),
    enabled: true,
    targets: d.targets.map((t) => ({ host: t.host, vm: t.vm, hostName: t.hostName, vmName: t.vmName })),
    mode: d.mode,
    ...(d.repo.kind === 'other' ? { repo: d.repo.location.trim() } : {}),
    options: {
      quiesce: d.quiesce,
      requireQuiesce: d.quiesce && d.requireQuiesce,
      shutdownTimeoutSec: Math.max(5, (count(d.shutdownTimeoutMin) ?? 5) * 60),
      forceOffAfterTimeout: d.forceOff,
      incremental: d.incremental,
      ...(d.preHook.trim() ? { preHook: d.preHook.trim() } : {}),
      ...(d.postHook.trim() ? { postHook: d.postHook.trim() } : {}),
    },
    schedule: d.when === 'now' ? { kind: 'manual' } : d.schedule,
    ...(Object.keys(retention).length > 0 ? { retention } : {}),
    concurrency: Math.min(8, Math.max(1, count(d.concurrency) ?? 1)),
    ...(d.check && d.checkHost !== ''
      ? {
          check: {
            host: d.checkHost,
            ...(d.checkHostName !== '' ? { hostName: d.checkHostName } : {}),
            timeoutSec: Math.min(24 * 3600, Math.max(1, count(d.checkTimeoutMin) ?? 10) * 60),
            ...(d.checkWhen === 'schedule' ? { schedule: d.checkSchedule } : {}),
          },
        }
      : {}),
  }
}

export type StepProblem = { readonly field: string; readonly key: 'wizard.err.noVms' | 'wizard.err.mode' | 'wizard.err.location' | 'wizard.err.passphrase' | 'wizard.err.passphraseMatch' | 'wizard.err.name' | 'wizard.err.cron' | 'wizard.err.number' | 'wizard.err.keep' | 'wizard.err.checkHost' | 'wizard.err.checkDays' }

/** What stops the admin from leaving a step; checked again by the engine when saving. */
export function problems(d: Draft, step: WizardStep, modeAvailable: boolean): StepProblem[] {
  const out: StepProblem[] = []
  if (step === 'vms' && d.targets.length === 0) out.push({ field: 'targets', key: 'wizard.err.noVms' })
  if (step === 'mode' && !modeAvailable) out.push({ field: 'mode', key: 'wizard.err.mode' })
  if (step === 'destination' && d.repo.kind === 'other') {
    if (!/^(\/|[A-Za-z]:[\\/]|file:\/\/\/|sftp:\/\/|s3:\/\/)/.test(d.repo.location.trim())) out.push({ field: 'location', key: 'wizard.err.location' })
    if (d.repo.create && d.repo.passphrase !== '' && d.repo.passphrase.length < 8) out.push({ field: 'passphrase', key: 'wizard.err.passphrase' })
    if (d.repo.create && d.repo.passphrase !== d.repo.passphrase2) out.push({ field: 'passphrase2', key: 'wizard.err.passphraseMatch' })
  }
  if (step === 'when') {
    if (d.when === 'schedule' && d.schedule.kind === 'cron' && d.schedule.expression.trim().split(/\s+/).length !== 5) out.push({ field: 'cron', key: 'wizard.err.cron' })
    for (const v of Object.values(d.retention)) if (v.trim() !== '' && count(v) === undefined) out.push({ field: 'retention', key: 'wizard.err.number' })
    if (d.when === 'schedule' && Object.values(d.retention).every((v) => (count(v) ?? 0) === 0)) out.push({ field: 'retention', key: 'wizard.err.keep' })
  }
  if (step === 'options') {
    if (count(d.shutdownTimeoutMin) === undefined || count(d.concurrency) === undefined) out.push({ field: 'options', key: 'wizard.err.number' })
    if (d.check && d.checkHost === '') out.push({ field: 'checkHost', key: 'wizard.err.checkHost' })
    if (d.check && !((count(d.checkTimeoutMin) ?? 0) >= 1)) out.push({ field: 'checkTimeout', key: 'wizard.err.number' })
    if (d.check && d.checkWhen === 'schedule' && d.checkSchedule.kind === 'cron' && d.checkSchedule.expression.trim().split(/\s+/).length !== 5) out.push({ field: 'checkCron', key: 'wizard.err.cron' })
    if (d.check && d.checkWhen === 'schedule' && d.checkSchedule.kind === 'weekly' && d.checkSchedule.days.length === 0) out.push({ field: 'checkDays', key: 'wizard.err.checkDays' })
  }
  if (step === 'review' && d.name.trim() === '') out.push({ field: 'name', key: 'wizard.err.name' })
  return out
}

/** 0–4 for the passphrase strength hint: length and variety, not a promise. */
export function passphraseStrength(p: string): number {
  if (p.length === 0) return 0
  let score = p.length >= 16 ? 3 : p.length >= 12 ? 2 : p.length >= 8 ? 1 : 0
  const classes = [/[a-z]/, /[A-Z]/, /\d/, /[^A-Za-z0-9]/].filter((r) => r.test(p)).length
  if (classes >= 3) score++
  if (/^(.)\1+$/.test(p) || /^(password|passwort|123456|qwerty)/i.test(p)) score = 0
  return Math.min(4, score)
}
