import { setTimeout as sleep } from 'node:timers/promises'

/** What one delivery on one channel came to, after its retries. */
export interface Delivery {
  readonly ok: boolean
  readonly attempts: number
  /** Plain words, with every secret of the channel blanked out. */
  readonly message: string
  readonly certificate?: { readonly fingerprint: string; readonly subject: string; readonly validTo: string }
}

/** A failed attempt; `retry: false` for answers that another try cannot change (wrong password, 404, untrusted certificate). */
export class AttemptError extends Error {
  constructor(
    message: string,
    readonly retry: boolean,
    readonly certificate?: Delivery['certificate'],
  ) {
    super(message)
  }
}

export interface RetryPolicy {
  /** Tries in all, the first included. */
  readonly attempts: number
  /** Wait before the second try; doubled before each later one. */
  readonly backoffMs: number
  /** Limit of one try, connection to answer. */
  readonly timeoutMs: number
}

export const defaultRetryPolicy: RetryPolicy = { attempts: 3, backoffMs: 2000, timeoutMs: 15_000 }

/** Blanks every secret (and its URL-encoded form) out of a text that may reach a log, a screen or a webhook. */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text
  for (const s of secrets) {
    if (s === undefined || s.length < 4) continue
    for (const form of new Set([s, encodeURIComponent(s)])) out = out.split(form).join('[secret]')
  }
  return out
}

/**
 * Runs `attempt` until it succeeds, gives up, or the policy's tries are spent, waiting longer between tries.
 * Never throws: a failure to notify is an answer, not an exception in the caller's backup.
 */
export async function withRetries(
  policy: RetryPolicy,
  signal: AbortSignal,
  secrets: readonly (string | undefined)[],
  attempt: (signal: AbortSignal) => Promise<string>,
): Promise<Delivery> {
  let last: AttemptError | undefined
  for (let i = 1; i <= policy.attempts; i++) {
    if (signal.aborted) return { ok: false, attempts: i - 1, message: 'Cancelled before the message was sent.' }
    const timeout = AbortSignal.timeout(policy.timeoutMs)
    try {
      const what = await attempt(AbortSignal.any([signal, timeout]))
      return { ok: true, attempts: i, message: redact(what, secrets) }
    } catch (err) {
      const message = timeout.aborted ? `No answer within ${policy.timeoutMs < 1000 ? `${policy.timeoutMs} ms` : `${Math.round(policy.timeoutMs / 1000)} s`}.` : err instanceof Error ? err.message : String(err)
      last = err instanceof AttemptError ? new AttemptError(redact(message, secrets), err.retry, err.certificate) : new AttemptError(redact(message, secrets), true)
      if (!last.retry || i === policy.attempts) return { ok: false, attempts: i, message: last.message, ...(last.certificate ? { certificate: last.certificate } : {}) }
      try {
        await sleep(policy.backoffMs * 2 ** (i - 1), undefined, { signal })
      } catch {
        return { ok: false, attempts: i, message: `${last.message} Cancelled before the next try.` }
      }
    }
  }
  return { ok: false, attempts: policy.attempts, message: last?.message ?? 'Not sent.' }
}
