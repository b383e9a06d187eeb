import { z } from 'zod'
import { PlanCheckOutcomeSchema, PointCheckDtoSchema } from '../../../engine/api/contract'

/**
 * Jobs whose success says nothing by itself: a health check that reached a verdict, a plan run that checked its points,
 * a plan's check on its own schedule.
 */
export const kindsWithVerdict: ReadonlySet<string> = new Set(['points.check', 'plan.run', 'plan.check'])

export type JobVerdict =
  | { readonly kind: 'check'; readonly verdict: 'booted' | 'failed'; readonly reason: string }
  | { readonly kind: 'plan'; readonly verdict: 'booted' | 'failed' | 'error'; readonly summary: string }

const PlanResultSchema = z.object({ check: PlanCheckOutcomeSchema })

/** The verdict a finished job's result carries, if it is one of those jobs (the result is checked, never trusted). */
export function jobVerdict(kind: string, result: unknown): JobVerdict | undefined {
  if (kind === 'points.check') {
    const c = PointCheckDtoSchema.safeParse(result)
    return c.success ? { kind: 'check', verdict: c.data.verdict, reason: c.data.reason } : undefined
  }
  if (kind === 'plan.run' || kind === 'plan.check') {
    const r = PlanResultSchema.safeParse(result)
    return r.success ? { kind: 'plan', verdict: r.data.check.verdict, summary: r.data.check.summary } : undefined
  }
  return undefined
}
