/**
 * What counts as an abort, for adapters and engine alike (this file imports nothing, so both may use it).
 *
 * A cancelled or timed-out operation reaches a catch block in several shapes, and each must be recognised so that it
 * is reported as a cancel rather than as a failure of whatever happened to be running:
 * - `signal.throwIfAborted()` / fetch / undici after `controller.abort()`: a DOMException named `AbortError`;
 * - the same after `AbortSignal.timeout()` fired: a DOMException named `TimeoutError`;
 * - Node's own APIs (`timers/promises`, streams, child processes): an error with `code: 'ABORT_ERR'`;
 * - Lifeboat's typed errors: code `CANCELLED` (AdapterError from `throwIfAborted` in host-adapter.ts, RepositoryError
 *   from `throwIfCancelled` in engine/repository/errors.ts) — a cancel that already crossed a layer.
 *
 * Which thrower to use: in adapters/, `throwIfAborted` (AdapterError CANCELLED, which names the step in the message);
 * in engine/repository/, `throwIfCancelled` (RepositoryError CANCELLED, which says what is left in the repository);
 * elsewhere in the engine, `signal?.throwIfAborted()`. Whatever was thrown, `isAbortError` says whether it was a cancel.
 */
export function isAbortError(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  if (error.name === 'AbortError' || error.name === 'TimeoutError') return true
  const code = (error as { readonly code?: unknown }).code
  return code === 'ABORT_ERR' || code === 'CANCELLED'
}
