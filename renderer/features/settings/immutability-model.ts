import type { PlanView } from '../../../engine/api/contract'
import type { MessageKey } from '../../i18n/en'

export type LockMode = 'GOVERNANCE' | 'COMPLIANCE'
export interface ObjectLock {
  readonly mode: LockMode
  readonly days: number
}

/** What the form holds: the days as typed, so a half-typed number is shown as typed and judged on save. */
export interface LockDraft {
  readonly mode: LockMode
  readonly days: string
}

/**
 * The app offers up to 10 years. The engine takes up to 36500 days, but a longer compliance lock than that is far more
 * likely a typo (an extra zero) than a wish, and it can never be taken back.
 */
export const MAX_LOCK_DAYS = 3650

export type RepoKind = 's3' | 'sftp' | 'folder'

/** What kind of storage a repository location is (the engine's normalised location: s3://, sftp://, or a folder). */
export function repoKind(location: string): RepoKind {
  const lower = location.trim().toLowerCase()
  if (lower.startsWith('s3://')) return 's3'
  if (lower.startsWith('sftp://')) return 'sftp'
  return 'folder'
}

/** The form as it starts: the repository's current setting, else governance for 30 days. */
export function draftFrom(lock: ObjectLock | undefined): LockDraft {
  return lock === undefined ? { mode: 'GOVERNANCE', days: '30' } : { mode: lock.mode, days: String(lock.days) }
}

export type DraftCheck = { readonly lock: ObjectLock } | { readonly error: MessageKey; readonly params?: Readonly<Record<string, number>> }

/** The setting the form asks for, or why it cannot be saved (in words the admin can act on). */
export function checkDraft(draft: LockDraft): DraftCheck {
  const text = draft.days.trim()
  if (text === '') return { error: 'immutability.err.daysMissing', params: { max: MAX_LOCK_DAYS } }
  if (!/^\d+$/.test(text)) return { error: 'immutability.err.daysWhole' }
  const days = Number(text)
  if (days < 1 || days > MAX_LOCK_DAYS) return { error: 'immutability.err.daysRange', params: { max: MAX_LOCK_DAYS } }
  return { lock: { mode: draft.mode, days } }
}

/** Saving this cannot be taken back for the points it locks: compliance asks first, every time. */
export function needsConfirmation(lock: ObjectLock): boolean {
  return lock.mode === 'COMPLIANCE'
}

/** Whether saving would change anything (the button says "Save" only when it would). */
export function isChange(current: ObjectLock | undefined, next: ObjectLock): boolean {
  return current === undefined || current.mode !== next.mode || current.days !== next.days
}

/** What the repository does now: a short title ("Governance, 30 days") and the sentence that explains it. */
export function stateKeys(lock: ObjectLock | undefined): { readonly title: MessageKey; readonly text: MessageKey } {
  if (lock === undefined) return { title: 'immutability.now.off', text: 'immutability.now.off.text' }
  return lock.mode === 'COMPLIANCE'
    ? { title: 'immutability.now.compliance', text: 'immutability.now.compliance.text' }
    : { title: 'immutability.now.governance', text: 'immutability.now.governance.text' }
}

export interface KnownRepository {
  readonly location: string
  /** Plans whose restore points go there, and plans that copy to it. */
  readonly planNames: readonly string[]
  readonly copyOf: readonly string[]
}

/**
 * The repositories the app knows of besides the default one: those plans back up to and those they copy to, each
 * once (in the order first met), with the plans that use it.
 */
export function knownRepositories(plans: readonly PlanView[]): KnownRepository[] {
  const byLocation = new Map<string, { planNames: string[]; copyOf: string[] }>()
  const entry = (location: string) => {
    let e = byLocation.get(location)
    if (e === undefined) byLocation.set(location, (e = { planNames: [], copyOf: [] }))
    return e
  }
  for (const { plan } of plans) {
    if (plan.repo !== undefined) entry(plan.repo).planNames.push(plan.name)
    for (const copy of plan.copies ?? []) entry(copy.to).copyOf.push(plan.name)
  }
  return [...byLocation].map(([location, e]) => ({ location, planNames: e.planNames, copyOf: e.copyOf }))
}
