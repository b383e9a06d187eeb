import { ZodError } from 'zod'
import { AdapterError, type AdapterErrorCode } from '../../adapters/host-adapter'
import { StateError, type StateErrorCode } from '../state/state-error'
import { LockTimeoutError } from '../state/file-lock'
import { DiskFormatError } from '../disks/errors'
import { FilesystemError, type FilesystemErrorCode } from '../filesystems/errors'
import { RepositoryError, type RepositoryErrorCode } from '../repository/errors'
import { ApiError, type ErrorCode } from '../api/contract-errors'

const adapterCodes = {
  HOST_UNREACHABLE: 'HOST_UNREACHABLE',
  CONNECTION_TIMEOUT: 'CONNECTION_TIMEOUT',
  CONNECTION_LOST: 'CONNECTION_LOST',
  AUTH_FAILED: 'AUTH_FAILED',
  KEY_INVALID: 'KEY_INVALID',
  HOST_KEY_UNKNOWN: 'HOST_KEY_UNKNOWN',
  HOST_KEY_MISMATCH: 'HOST_KEY_MISMATCH',
  TLS_FAILED: 'TLS_FAILED',
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  COMMAND_FAILED: 'COMMAND_FAILED',
  BAD_RESPONSE: 'BAD_RESPONSE',
  NOT_FOUND: 'NOT_FOUND',
  NOT_SUPPORTED: 'NOT_SUPPORTED',
  CANCELLED: 'CANCELLED',
} as const satisfies Record<AdapterErrorCode, ErrorCode>

const stateCodes = {
  STATE_CORRUPT: 'STATE_CORRUPT',
  SECRET_LOCKED: 'SECRET_LOCKED',
  SECRET_MISSING: 'SECRET_MISSING',
  STATE_BUSY: 'STATE_BUSY',
} as const satisfies Record<StateErrorCode, ErrorCode>

const filesystemCodes = {
  'not-found': 'PATH_NOT_FOUND',
  'not-a-directory': 'INVALID_INPUT',
  'is-a-directory': 'INVALID_INPUT',
  'not-a-symlink': 'INVALID_INPUT',
  'bad-locator': 'INVALID_INPUT',
  'invalid-argument': 'INVALID_INPUT',
  'unsafe-name': 'INVALID_INPUT',
  'unknown-filesystem': 'NOT_SUPPORTED',
  unsupported: 'NOT_SUPPORTED',
  corrupt: 'DISK_UNREADABLE',
  truncated: 'DISK_UNREADABLE',
  'too-large': 'DISK_UNREADABLE',
  loop: 'DISK_UNREADABLE',
  limit: 'INVALID_INPUT',
} as const satisfies Record<FilesystemErrorCode, ErrorCode>

const repositoryCodes = {
  REPO_NOT_FOUND: 'REPO_NOT_FOUND',
  REPO_EXISTS: 'REPO_EXISTS',
  REPO_LOCKED: 'REPO_LOCKED',
  LOCK_LOST: 'REPO_LOCKED',
  UNSUPPORTED_FORMAT: 'REPO_UNSUPPORTED',
  CORRUPT_CONFIG: 'REPO_DAMAGED',
  PASSPHRASE_REQUIRED: 'PASSPHRASE_REQUIRED',
  WRONG_PASSPHRASE: 'WRONG_PASSPHRASE',
  CORRUPT_CHUNK: 'REPO_DAMAGED',
  MISSING_CHUNK: 'REPO_DAMAGED',
  CORRUPT_MANIFEST: 'REPO_DAMAGED',
  POINT_NOT_FOUND: 'POINT_NOT_FOUND',
  DISK_NOT_FOUND: 'NOT_FOUND',
  NO_SPACE: 'NO_SPACE',
  CANCELLED: 'CANCELLED',
  INVALID_ARGUMENT: 'INVALID_INPUT',
  EXPORT_UNSUPPORTED: 'NOT_SUPPORTED',
  BACKEND_ERROR: 'STORAGE_FAILED',
} as const satisfies Record<RepositoryErrorCode, ErrorCode>

/** A limit that carries the target's free space is the restore folder being too small, not a bad request. */
function filesystemCodeOf(err: FilesystemError): ErrorCode {
  return err.code === 'limit' && typeof err.params.free === 'number' ? 'NO_SPACE' : filesystemCodes[err.code]
}

/** A path that is no image file at all (a named pipe, a folder) is a bad request, not a damaged disk. */
function diskCodeOf(err: DiskFormatError): ErrorCode {
  return err.code === 'not-a-file' ? 'INVALID_INPUT' : err.code === 'unsupported' ? 'NOT_SUPPORTED' : 'DISK_UNREADABLE'
}

/**
 * Every failure leaving the engine goes through here, so the doors only ever see ApiError with a stable code.
 * Unknown errors become INTERNAL with their message (never their stack, never input values).
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err
  if (err instanceof AdapterError) return new ApiError(adapterCodes[err.code], err.message, err.params)
  if (err instanceof StateError) return new ApiError(stateCodes[err.code], err.message, err.params)
  if (err instanceof LockTimeoutError) return new ApiError('STATE_BUSY', err.message)
  if (err instanceof RepositoryError) return new ApiError(repositoryCodes[err.code], err.message, { ...err.params, reason: err.code })
  if (err instanceof DiskFormatError) return new ApiError(diskCodeOf(err), err.message, { ...err.params, reason: err.code })
  if (err instanceof FilesystemError) return new ApiError(filesystemCodeOf(err), err.message, { ...err.params, reason: err.code })
  if (err instanceof ZodError) return fromZod(err)
  if (err instanceof Error && err.name === 'AbortError') return new ApiError('CANCELLED', 'The operation was cancelled.')
  const message = err instanceof Error ? err.message : String(err)
  return new ApiError('INTERNAL', `Something unexpected went wrong inside Lifeboat: ${message}`)
}

export function fromZod(err: ZodError): ApiError {
  const first = err.issues[0]
  const field = first?.path.join('.') ?? ''
  const message = first ? (field ? `${field}: ${first.message}` : first.message) : 'The request is not valid.'
  return new ApiError('INVALID_INPUT', message, { field, issues: err.issues.length })
}
