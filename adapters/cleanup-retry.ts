/**
 * Cleanup meets passing refusals: a lost answer over SSH, a busy libvirtd, OTHER_OPERATION_IN_PROGRESS on a pool, a
 * disk still being detached. Leaving a VM off or a file behind over one of those is worse than trying again, so the
 * cleanup steps of every adapter go through this one loop; each says how often and how long to wait.
 */
export interface RetryPolicy {
  /** How many times the step is tried in all. */
  readonly times: number
  /** How long to wait after the n-th failed try (1-based) before the next; 0 goes on at once. */
  readonly delayMs: (failed: number) => number
  /** An aborted signal ends the tries after the current one (its error is thrown). */
  readonly signal?: AbortSignal
  /** Told about each failure that will be tried again. */
  readonly onRetry?: (err: unknown, failed: number) => void
}

/** Runs `step` until it resolves or its tries are used up; then throws the last error. */
export async function retrying<T>(step: (attempt: number) => Promise<T>, policy: RetryPolicy): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step(attempt)
    } catch (err) {
      if (attempt >= policy.times || policy.signal?.aborted === true) throw err
      policy.onRetry?.(err, attempt)
      const ms = policy.delayMs(attempt)
      if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms))
    }
  }
}

/** An undo that is tried three times (250 ms, then 500 ms apart) before it is reported as left behind. */
export function persistently(undo: (signal: AbortSignal) => Promise<unknown>): (signal: AbortSignal) => Promise<void> {
  return async (signal) => {
    await retrying(() => undo(signal), { times: 3, delayMs: (n) => 250 * n, signal })
  }
}
