import { z } from 'zod'

/**
 * Every error code the API can return, declared once. The UI translates by code (with params); the English
 * message travels along as a fallback and for the CLI. Codes are a stable contract: add, never rename.
 */
export const errorCodes = [
  // requests
  'INVALID_INPUT',
  'UNKNOWN_CHANNEL',
  'UNAUTHORIZED',
  'INTERNAL',
  // hosts and connections
  'HOST_NOT_FOUND',
  'HOST_NAME_TAKEN',
  'HOST_UNREACHABLE',
  'CONNECTION_TIMEOUT',
  'CONNECTION_LOST',
  'AUTH_FAILED',
  'KEY_INVALID',
  'HOST_KEY_UNKNOWN',
  'HOST_KEY_MISMATCH',
  'TLS_FAILED',
  'PERMISSION_DENIED',
  'COMMAND_FAILED',
  'BAD_RESPONSE',
  'NOT_FOUND',
  'NOT_SUPPORTED',
  'CANCELLED',
  // jobs
  'JOB_NOT_FOUND',
  // disks, filesystems and restores
  'DISK_UNREADABLE',
  'PATH_NOT_FOUND',
  // the backup repository
  'REPO_NOT_FOUND',
  'REPO_EXISTS',
  'REPO_LOCKED',
  'REPO_DAMAGED',
  'REPO_UNSUPPORTED',
  'PASSPHRASE_REQUIRED',
  'WRONG_PASSPHRASE',
  'POINT_NOT_FOUND',
  'NO_SPACE',
  'STORAGE_FAILED',
  // Lifeboat's own state
  'STATE_CORRUPT',
  'SECRET_LOCKED',
  'SECRET_MISSING',
  'STATE_BUSY',
] as const

export const ErrorCodeSchema = z.enum(errorCodes)
export type ErrorCode = z.infer<typeof ErrorCodeSchema>

export const ErrorParamsSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))
export type ErrorParams = z.infer<typeof ErrorParamsSchema>

export const ApiErrorSchema = z.object({
  code: ErrorCodeSchema,
  message: z.string(),
  params: ErrorParamsSchema,
})
export type ApiErrorShape = z.infer<typeof ApiErrorSchema>

/** The error a caller sees: thrown by ApiClient.invoke, by handlers, and printed by the CLI. */
export class ApiError extends Error {
  override readonly name = 'ApiError'
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly params: ErrorParams = {},
  ) {
    super(message)
  }

  toJSON(): ApiErrorShape {
    return { code: this.code, message: this.message, params: this.params }
  }

  static from(shape: ApiErrorShape): ApiError {
    return new ApiError(shape.code, shape.message, shape.params)
  }
}

/** The envelope every door returns for every call. */
export type Envelope<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ApiErrorShape }
