import type { NotifyEventKind } from '../api/contract-notify'

/**
 * What Lifeboat alerts about. Plain data, filled by whoever noticed it (scheduler, checks, verify); the notifier
 * renders it in the admin's language. Names and reasons come from hosts and repositories: treat them as text only.
 */
export type NotifyEvent =
  | { readonly kind: 'run-failed'; readonly plan: string; readonly vm?: string; readonly error: string; readonly jobId?: string }
  | { readonly kind: 'run-skipped'; readonly plan: string; readonly reason: string }
  | { readonly kind: 'vm-stale'; readonly vm: string; readonly host?: string; readonly hours: number; readonly lastSuccessAt?: string }
  | { readonly kind: 'check-failed'; readonly point: string; readonly vm?: string; readonly reason: string }
  | { readonly kind: 'snapshot-review'; readonly vm: string; readonly snapshot: string; readonly reviewBy: string }
  | { readonly kind: 'repo-space-low'; readonly repository: string; readonly freeBytes: number; readonly totalBytes?: number }
  | { readonly kind: 'verify-damage'; readonly repository: string; readonly damagedChunks: number; readonly points: readonly string[] }
  | {
      readonly kind: 'daily-summary'
      readonly date: string
      readonly runsSucceeded: number
      readonly runsFailed: number
      readonly runsSkipped: number
      readonly staleVms: readonly string[]
      readonly freeBytes?: number
    }
  | { readonly kind: 'test' }

/** Every kind is one the admin can switch off, except the test message (asked for explicitly). */
export type SelectableKind = Exclude<NotifyEvent['kind'], 'test'>
export const isSelectable = (kind: NotifyEvent['kind']): kind is NotifyEventKind => kind !== 'test'

export type Severity = 'info' | 'warning' | 'error'

/** An alert rendered for people: a subject line and plain text, and how serious it is (for priorities and colours). */
export interface NotifyMessage {
  readonly kind: NotifyEvent['kind']
  readonly severity: Severity
  readonly subject: string
  readonly text: string
}
