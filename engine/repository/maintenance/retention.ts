import { RepositoryError } from '../errors.js'

/** How many restore points to keep, per VM. Zero or absent means "this rule keeps nothing". */
export interface RetentionPolicy {
  readonly keepLast?: number
  readonly keepHourly?: number
  readonly keepDaily?: number
  readonly keepWeekly?: number
  readonly keepMonthly?: number
  readonly keepYearly?: number
}

export interface RetentionCandidate {
  readonly id: string
  /** Points are grouped by this (the VM id): each VM keeps its own history. */
  readonly group: string
  readonly time: Date
}

export interface RetentionDecision {
  readonly id: string
  readonly group: string
  readonly keep: boolean
  /** Why kept ("last 3", "daily 2026-11-20") or why removed. */
  readonly reasons: readonly string[]
}

type Bucket = 'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly'
const RULES: readonly [Bucket, keyof RetentionPolicy][] = [
  ['hourly', 'keepHourly'],
  ['daily', 'keepDaily'],
  ['weekly', 'keepWeekly'],
  ['monthly', 'keepMonthly'],
  ['yearly', 'keepYearly'],
]

/** Calendar buckets in UTC, so a decision never depends on the time zone of the machine that runs prune. */
function bucketOf(kind: Bucket, t: Date): string {
  const iso = t.toISOString()
  switch (kind) {
    case 'hourly':
      return iso.slice(0, 13)
    case 'daily':
      return iso.slice(0, 10)
    case 'monthly':
      return iso.slice(0, 7)
    case 'yearly':
      return iso.slice(0, 4)
    case 'weekly': {
      // ISO week: the Thursday of the point's week decides the week's year.
      const d = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate()))
      d.setUTCDate(d.getUTCDate() + 4 - (d.getUTCDay() || 7))
      const week = Math.ceil(((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000 + 1) / 7)
      return `${d.getUTCFullYear()}-W${String(week).padStart(2, '0')}`
    }
  }
}

export function validatePolicy(policy: RetentionPolicy): void {
  const values = [policy.keepLast, ...RULES.map(([, key]) => policy[key])]
  for (const v of values) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) throw new RepositoryError('INVALID_ARGUMENT', 'Retention counts must be whole numbers of zero or more. Nothing was removed.')
  }
  if (!values.some((v) => v !== undefined && v > 0)) {
    throw new RepositoryError('INVALID_ARGUMENT', 'This retention policy keeps no restore point at all; refusing to remove every backup. Nothing was removed.')
  }
}

/**
 * Decides, per group, what a policy keeps: walking from newest to oldest, keep-last keeps the first N, and each
 * calendar rule keeps the newest point of each of its N most recent buckets. A point is kept if any rule keeps it.
 */
export function applyRetention(candidates: readonly RetentionCandidate[], policy: RetentionPolicy): RetentionDecision[] {
  validatePolicy(policy)
  const groups = new Map<string, RetentionCandidate[]>()
  for (const c of candidates) groups.set(c.group, [...(groups.get(c.group) ?? []), c])
  const out: RetentionDecision[] = []
  for (const list of groups.values()) {
    const sorted = [...list].sort((a, b) => b.time.getTime() - a.time.getTime() || b.id.localeCompare(a.id))
    const reasons = new Map<string, string[]>(sorted.map((c) => [c.id, []]))
    sorted.slice(0, policy.keepLast ?? 0).forEach((c, i) => reasons.get(c.id)?.push(`last ${i + 1}`))
    for (const [kind, key] of RULES) {
      const limit = policy[key] ?? 0
      const seen = new Set<string>()
      for (const c of sorted) {
        if (seen.size >= limit) break
        const bucket = bucketOf(kind, c.time)
        if (seen.has(bucket)) continue
        seen.add(bucket)
        reasons.get(c.id)?.push(`${kind} ${bucket}`)
      }
    }
    for (const c of sorted) {
      const why = reasons.get(c.id) ?? []
      out.push(why.length > 0 ? { id: c.id, group: c.group, keep: true, reasons: why } : { id: c.id, group: c.group, keep: false, reasons: ['no retention rule keeps it'] })
    }
  }
  return out.sort((a, b) => a.id.localeCompare(b.id))
}
