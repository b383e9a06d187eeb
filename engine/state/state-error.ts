export type StateErrorCode = 'STATE_CORRUPT' | 'SECRET_LOCKED' | 'SECRET_MISSING' | 'STATE_BUSY'

/** Something about Lifeboat's own saved state (not a host) is wrong. Messages say which file and what to do. */
export class StateError extends Error {
  override readonly name = 'StateError'
  constructor(
    readonly code: StateErrorCode,
    message: string,
    readonly params: Readonly<Record<string, string | number | boolean | null>> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}
