import type { SnapshotDto } from '../../../engine/api/contract'

export const reviewChoices = [1, 3, 7, 14, 30, 0] as const
export type ReviewDays = (typeof reviewChoices)[number]
/** A week: long enough to notice a bad patch, short enough that the snapshot does not grow for months. */
export const DEFAULT_REVIEW_DAYS: ReviewDays = 7

/** The review date for a new pre-patch snapshot (undefined: no reminder). */
export function reviewDate(days: ReviewDays, now: Date): string | undefined {
  return days === 0 ? undefined : new Date(now.getTime() + days * 86_400_000).toISOString()
}

export type ReviewState = 'not-lifeboat' | 'pending' | 'due' | 'kept' | 'no-date'

/** Where a snapshot stands: a pre-patch snapshot past its review date is "due" until the admin keeps or discards it. */
export function reviewState(s: Pick<SnapshotDto, 'lifeboat' | 'purpose' | 'expiresAt' | 'keptAt'>, now: number): ReviewState {
  if (!s.lifeboat || s.purpose !== 'before-patching') return 'not-lifeboat'
  if (s.keptAt !== undefined) return 'kept'
  if (s.expiresAt === undefined) return 'no-date'
  const due = Date.parse(s.expiresAt)
  return Number.isNaN(due) || due > now ? 'pending' : 'due'
}

/** Pre-patch snapshots first (due before pending), newest first within each group, then everything else. */
export function sortSnapshots<T extends Pick<SnapshotDto, 'lifeboat' | 'purpose' | 'expiresAt' | 'keptAt' | 'createdAt'>>(list: readonly T[], now: number): T[] {
  const rank: Record<ReviewState, number> = { due: 0, pending: 1, 'no-date': 2, kept: 3, 'not-lifeboat': 4 }
  return [...list].sort((a, b) => rank[reviewState(a, now)] - rank[reviewState(b, now)] || (b.createdAt ?? '').localeCompare(a.createdAt ?? ''))
}

export type RevertOutcome = 'resume' | 'boot' | 'off'

/**
 * What the VM does after a revert: with `start` it resumes where the snapshot left it when memory was captured
 * ('running') and boots from the snapshot's disks otherwise; without it, it stays off.
 */
export function revertOutcome(snapshotVmState: string | undefined, start: boolean): RevertOutcome {
  if (!start) return 'off'
  return snapshotVmState === 'running' ? 'resume' : 'boot'
}

/** A snapshot label the admin can recognise later, from what they typed (or a default with the date). */
export function snapshotLabel(note: string, fallback: string): string {
  const trimmed = note.trim().replace(/\s+/g, ' ')
  return trimmed === '' ? fallback : trimmed.slice(0, 500)
}
