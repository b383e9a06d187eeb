import { isAbortError } from '../../adapters/abort.js'

/**
 * Every failure the repository reports to its callers. The `code` is stable (the API layer maps it to the
 * contract's error codes and the UI translates it); `params` is plain data for that translation; the message is
 * written for an admin: what happened and what, if anything, was left behind.
 */
export type RepositoryErrorCode =
  | 'REPO_NOT_FOUND'
  | 'REPO_EXISTS'
  | 'REPO_LOCKED'
  | 'LOCK_LOST'
  | 'UNSUPPORTED_FORMAT'
  | 'CORRUPT_CONFIG'
  | 'PASSPHRASE_REQUIRED'
  | 'WRONG_PASSPHRASE'
  | 'CORRUPT_CHUNK'
  | 'MISSING_CHUNK'
  | 'CORRUPT_MANIFEST'
  | 'POINT_NOT_FOUND'
  | 'DISK_NOT_FOUND'
  | 'NO_SPACE'
  | 'CANCELLED'
  | 'INVALID_ARGUMENT'
  | 'EXPORT_UNSUPPORTED'
  | 'BACKEND_ERROR'

export type RepositoryErrorParams = Readonly<Record<string, string | number | boolean | null>>

export class RepositoryError extends Error {
  override readonly name = 'RepositoryError'
  readonly code: RepositoryErrorCode
  readonly params: RepositoryErrorParams

  constructor(code: RepositoryErrorCode, message: string, params: RepositoryErrorParams = {}, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.params = params
  }
}

export function isRepositoryError(error: unknown, code?: RepositoryErrorCode): error is RepositoryError {
  return error instanceof RepositoryError && (code === undefined || error.code === code)
}

/**
 * Throws RepositoryError CANCELLED when the operation was aborted; `leftBehind` tells the admin what stays in the
 * repository. For repository code; adapters use `throwIfAborted` (host-adapter.ts), the rest of the engine
 * `signal?.throwIfAborted()`. `isAbortError` (adapters/abort.ts) recognises what each of them throws.
 */
export function throwIfCancelled(signal: AbortSignal | undefined, leftBehind = 'Nothing was changed.'): void {
  if (signal?.aborted === true) throw cancelledError(leftBehind)
}

export function cancelledError(leftBehind = 'Nothing was changed.'): RepositoryError {
  return new RepositoryError('CANCELLED', `The operation was cancelled. ${leftBehind}`)
}

/**
 * Translates low-level errors (ENOSPC, aborts — also an AdapterError CANCELLED from a disk being read, or a timeout)
 * into repository errors; repository errors pass unchanged.
 */
export function toRepositoryError(error: unknown, what: string): RepositoryError {
  // `await using` wraps an error thrown while disposing in a SuppressedError; the original failure is what counts.
  if (error instanceof Error && error.name === 'SuppressedError' && 'suppressed' in error) return toRepositoryError(error.suppressed, what)
  if (error instanceof RepositoryError) return error
  if (isAbortError(error) && !isConnectionError(error)) return cancelledError()
  const code = (error as { code?: unknown } | null)?.code
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new RepositoryError('NO_SPACE', `The repository's storage is full while ${what}.`, { what }, { cause: error })
  }
  const detail = error instanceof Error ? error.message : String(error)
  return new RepositoryError('BACKEND_ERROR', `The repository's storage failed while ${what}: ${detail}`, { what, detail }, { cause: error })
}

/**
 * The AWS SDK names a connection reset or refused mid-request "TimeoutError" (code ECONNRESET, "socket hang up"),
 * which would otherwise read as a cancel that "changed nothing": a lost connection is a storage failure.
 */
function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && /^E[A-Z]+$/.test(code)
}
