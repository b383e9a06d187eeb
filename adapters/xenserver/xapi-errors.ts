import { AdapterError } from '../host-adapter'

/** XAPI error codes that mean "the credentials are wrong", per the XAPI datamodel's error list. */
const authErrors = new Set(['SESSION_AUTHENTICATION_FAILED', 'SESSION_AUTHORIZATION_FAILED'])

/** The roles a RBAC_PERMISSION_DENIED message names ("… (Roles with this permission: pool-admin, pool-operator)"). */
function rolesNamed(message: string | undefined): string | undefined {
  const m = /Roles with this permission: ([a-z-]+(?:, [a-z-]+){0,9})\)/.exec(message ?? '')
  return m?.[1]
}

/**
 * RBAC_PERMISSION_DENIED [permission; message]: the user is known and its password right, but its role on the pool
 * may not do this (xen-api ocaml/xapi/rbac.ml `check`; at login, an Active Directory subject with no role at all,
 * xapi_session.ml). Not a wrong password: the admin has to give the user another role.
 */
function permissionDenied(params: readonly string[], user: string | undefined, err: unknown): AdapterError {
  const [permission = '', message] = params
  const action = /^[a-z0-9_./:-]{1,120}$/.test(permission) ? permission : 'do this'
  const roles = rolesNamed(message)
  const text =
    user !== undefined
      ? `The pool accepted the password for ${user} but refused the login: the user has no role on this pool that may log in (RBAC_PERMISSION_DENIED). Give it a role (e.g. pool-operator) under the pool's users, or log in as root.`
      : `Your user's role on the pool may not ${action}${roles !== undefined ? ` (only ${roles} may)` : ''} (RBAC_PERMISSION_DENIED). Give Lifeboat's user a role that may, or log in as root.`
  return new AdapterError('PERMISSION_DENIED', text, { xapiCode: 'RBAC_PERMISSION_DENIED', xapiParams: params.join('\u0000'), permission: action }, { cause: err })
}

const CODE = /^[A-Z][A-Z0-9_]{1,80}$/

/** The XAPI error code of an error (from xen-api or already mapped), if it has one. */
export function xapiCode(err: unknown): string | undefined {
  if (err instanceof AdapterError) {
    const code = err.params.xapiCode
    return typeof code === 'string' ? code : undefined
  }
  const code = (err as { code?: unknown } | undefined)?.code
  return typeof code === 'string' && CODE.test(code) ? code : undefined
}

/** Error parameters as XAPI sent them (strings only, bounded). */
export function xapiParams(err: unknown): string[] {
  const params = (err as { params?: unknown } | undefined)?.params
  if (err instanceof AdapterError) {
    const p = err.params.xapiParams
    return typeof p === 'string' ? p.split('\u0000') : []
  }
  return Array.isArray(params) ? params.filter((p): p is string => typeof p === 'string').slice(0, 8).map((p) => p.slice(0, 500)) : []
}

const friendly: Record<string, string> = {
  VM_BAD_POWER_STATE: 'the VM is not in the power state this needs',
  OPERATION_NOT_ALLOWED: 'the pool does not allow this operation now',
  OPERATION_BLOCKED: 'the operation is blocked on this VM (blocked_operations)',
  SR_FULL: 'the storage repository is full',
  VDI_IN_USE: 'the disk is in use',
  HANDLE_INVALID: 'the object no longer exists on the pool',
  SESSION_INVALID: 'the XAPI session expired',
  TASK_CANCELLED: 'the task was cancelled',
  OTHER_OPERATION_IN_PROGRESS: 'another operation on this object is in progress',
}

/** Maps anything xen-api or XAPI throws to an AdapterError with the XAPI code kept in params.xapiCode. */
export function mapXapiError(err: unknown, user?: string): AdapterError {
  if (err instanceof AdapterError) return err
  const cause = (err as { cause?: unknown } | undefined)?.cause
  if (cause instanceof AdapterError) return cause
  const code = xapiCode(err)
  const params = xapiParams(err)
  if (code !== undefined && authErrors.has(code)) {
    return new AdapterError('AUTH_FAILED', `The pool refused the user name or password${user !== undefined ? ` for ${user}` : ''}.`, { xapiCode: code }, { cause: err })
  }
  if (code === 'RBAC_PERMISSION_DENIED') return permissionDenied(params, user, err)
  if (code === 'TASK_CANCELLED') return new AdapterError('CANCELLED', 'The XAPI task was cancelled.', { xapiCode: code }, { cause: err })
  if (code !== undefined) {
    const detail = params.filter((p) => p !== '' && !p.startsWith('OpaqueRef:')).slice(0, 3).join(', ')
    const why = friendly[code] ?? (code.startsWith('SR_BACKEND_FAILURE') ? 'the storage backend failed' : undefined)
    return new AdapterError('COMMAND_FAILED', `XAPI refused the request: ${code}${why !== undefined ? ` (${why})` : ''}${detail ? `: ${detail}` : ''}.`, { xapiCode: code, xapiParams: params.join('\u0000') }, { cause: err })
  }
  const message = err instanceof Error ? err.message : String(err)
  return new AdapterError('CONNECTION_LOST', `The connection to XAPI failed: ${message.slice(0, 300)}`, {}, { cause: err })
}
