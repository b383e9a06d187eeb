import { hasParameter } from './versions'
import type { SimCore, SimHost, TaskControl } from './core'
import { ROLES, type CompactMessage } from './datamodel-source'
import { NULL_REF, elementType, typeKind, type XapiValue, text } from './datamodel-values'
import { fault, XapiFault } from './errors'
import { enterCall } from './faults'

export interface Call {
  readonly core: SimCore
  readonly host: SimHost
  /** The caller's session (undefined for session.login_*). */
  readonly session: string
  /** Parameters after the session. */
  readonly args: readonly XapiValue[]
  readonly task?: TaskControl
  readonly signal?: AbortSignal
}

export type Handler = (call: Call) => XapiValue | Promise<XapiValue>

export interface Answer {
  readonly value: XapiValue
  /** The datamodel type of the value, for XML-RPC's typed encoding. */
  readonly type: string
}

const str = (v: XapiValue | undefined): string => text(v)

function checkType(value: XapiValue | undefined, type: string, name: string): void {
  const kind = typeKind(type)
  const bad = () => fault('FIELD_TYPE_ERROR', name)
  switch (kind) {
    case 'string':
    case 'ref':
    case 'enum':
    case 'datetime':
      if (typeof value !== 'string') throw bad()
      return
    case 'bool':
      if (typeof value !== 'boolean') throw bad()
      return
    case 'int':
    case 'float':
      if (typeof value !== 'number' && !(typeof value === 'string' && /^-?\d+(\.\d*)?$/.test(value))) throw bad()
      return
    case 'set':
      if (!Array.isArray(value)) throw bad()
      return
    case 'map':
    case 'record':
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad()
      return
    default:
  }
}

/**
 * Routes a call: checks the method exists in the datamodel, the parameter count, the session, the types and
 * references, then runs the specific handler or the generic accessor (get_/set_/add_to_/…) the datamodel implies.
 * Async.<class>.<message> runs the same as an XAPI task and answers its reference.
 */
export class Dispatcher {
  constructor(
    private readonly core: SimCore,
    private readonly handlers: ReadonlyMap<string, Handler>,
  ) {}

  listMethods(): string[] {
    const out: string[] = ['system.listMethods']
    for (const [cls, c] of Object.entries(this.core.model.data.classes)) {
      if (!this.core.model.hasClassAt(cls, this.core.xapiVersion)) continue
      for (const [name, m] of Object.entries(c.messages)) {
        if (this.core.model.messageAt(cls, name, this.core.xapiVersion) === undefined) continue
        out.push(`${cls}.${name}`)
        if (!m.implicit || name === 'create' || name === 'destroy') out.push(`Async.${cls}.${name}`)
      }
    }
    return out
  }

  async call(host: SimHost, method: string, params: readonly XapiValue[], signal?: AbortSignal): Promise<Answer> {
    this.core.stats.calls.push(method)
    const n = enterCall(this.core.faults, method)
    const answer = await this.run(host, method, params, signal)
    this.core.faults.afterCall?.(n, method)
    return answer
  }

  private async run(host: SimHost, method: string, params: readonly XapiValue[], signal?: AbortSignal): Promise<Answer> {
    if (method === 'system.listMethods') return { value: this.listMethods(), type: 'string set' }
    const isAsync = method.startsWith('Async.')
    const plain = isAsync ? method.slice(6) : method
    const dot = plain.indexOf('.')
    const cls = this.core.model.className(plain.slice(0, dot))
    const name = plain.slice(dot + 1)
    // A message (or class) newer than the XAPI version played does not exist there: the server's dispatch table is
    // generated from that release's datamodel (xen-api ocaml/idl/ocaml_backend/gen_server.ml), so it is unknown.
    const message = cls === undefined ? undefined : this.core.model.messageAt(cls, name, this.core.xapiVersion)
    if (cls === undefined || message === undefined || (isAsync && message.implicit && name !== 'create' && name !== 'destroy')) throw fault('MESSAGE_METHOD_UNKNOWN', method)
    const required = message.params.filter((p) => p.required).length
    const known = message.params.filter((p) => hasParameter(this.core.xapiVersion, `${cls}.${name}`, p.name)).length
    if (params.length < required || params.length > known) throw fault('MESSAGE_PARAMETER_COUNT_MISMATCH', method, text(known), text(params.length))
    const hasSession = message.params[0]?.type === 'session ref'
    const session = hasSession ? this.core.checkSession(params[0]) : ''
    this.checkRole(session, `${cls}.${name}`, message)
    this.validate(message, params)
    const args = hasSession ? params.slice(1) : params
    const key = `${cls}.${name}`
    const run = (task?: TaskControl): XapiValue | Promise<XapiValue> => {
      const handler = this.handlers.get(key) ?? this.generic(cls, name, message)
      return handler({ core: this.core, host, session, args, ...(task ? { task } : {}), ...(signal ? { signal } : {}) })
    }
    if (isAsync) return { value: this.core.runTask(method, session, message.result, async (task) => await run(task)), type: 'task ref' }
    return { value: await run(), type: message.result }
  }

  /**
   * The role check xapi makes before a call runs (ocaml/xapi/rbac.ml `check`): root is the local superuser and may do
   * anything; another user's session may call a message only if its role is among those the datamodel allows.
   * Refused: RBAC_PERMISSION_DENIED with the permission (the action in lower case, `permission_of_action`) and
   * "No permission in user session. (Roles with this permission: …)". Keyed map permissions (e.g. other_config keys
   * a vm-operator may set) are not modelled.
   */
  private checkRole(session: string, action: string, message: CompactMessage): void {
    const role = this.core.sessionRoles.get(session)
    if (role === undefined || message.role === undefined) return
    const rank = (r: string) => (ROLES as readonly string[]).indexOf(r)
    if (rank(role) <= rank(message.role)) return
    const allowed = ROLES.slice(0, rank(message.role) + 1).join(', ')
    throw fault('RBAC_PERMISSION_DENIED', action.toLowerCase(), `No permission in user session. (Roles with this permission: ${allowed})`)
  }

  private validate(message: CompactMessage, params: readonly XapiValue[]): void {
    for (const [i, p] of message.params.entries()) {
      const value = params[i]
      if (value === undefined || p.type === 'session ref') continue
      checkType(value, p.type, p.name)
      if (typeKind(p.type) === 'ref' && value !== NULL_REF && value !== '') {
        const target = this.core.model.className(p.type.replace(/ ref$/, ''))
        if (target !== undefined && !this.core.db.has(target, str(value))) throw fault('HANDLE_INVALID', target, str(value))
      }
      if (typeKind(p.type) === 'set' && typeKind(elementType(p.type)) === 'ref' && Array.isArray(value)) {
        const target = this.core.model.className(elementType(p.type).replace(/ ref$/, ''))
        for (const v of value as readonly XapiValue[]) if (target !== undefined && v !== NULL_REF && !this.core.db.has(target, str(v))) throw fault('HANDLE_INVALID', target, str(v))
      }
    }
  }

  /** The accessors every class has, as the datamodel lists them. */
  private generic(cls: string, name: string, message: CompactMessage): Handler {
    const db = this.core.db
    const field = (prefix: string) => name.slice(prefix.length)
    const copy = (v: XapiValue): XapiValue => JSON.parse(JSON.stringify(v)) as XapiValue
    const version = this.core.xapiVersion
    if (name === 'get_all') return () => db.all(cls).map(([ref]) => ref)
    if (name === 'get_all_records') return () => Object.fromEntries(db.all(cls).map(([ref, r]) => [ref, copy(db.model.recordAt(cls, r, version))]))
    if (name === 'get_record') return (c) => copy(db.model.recordAt(cls, db.get(cls, str(c.args[0])), version))
    if (name === 'get_by_uuid') return (c) => db.byUuid(cls, str(c.args[0]))
    if (name === 'get_by_name_label') return (c) => db.all(cls).filter(([, r]) => r.name_label === c.args[0]).map(([ref]) => ref)
    if (name.startsWith('get_') && db.model.fieldType(cls, field('get_')) !== undefined) return (c) => copy(db.get(cls, str(c.args[0]))[field('get_')] ?? null)
    if (name.startsWith('set_') && db.model.fieldType(cls, field('set_')) !== undefined) {
      return (c) => {
        db.set(cls, str(c.args[0]), { [field('set_')]: c.args[1] ?? null })
        return ''
      }
    }
    if (name.startsWith('add_to_')) {
      return (c) => {
        const r = db.get(cls, str(c.args[0]))
        const f = field('add_to_')
        const map = { ...(r[f] as Record<string, XapiValue>) }
        const key = str(c.args[1])
        if (key in map) throw fault('MAP_DUPLICATE_KEY', cls, f, str(r.uuid ?? c.args[0]), key)
        map[key] = c.args[2] ?? ''
        db.set(cls, str(c.args[0]), { [f]: map })
        return ''
      }
    }
    if (name.startsWith('remove_from_')) {
      return (c) => {
        const r = db.get(cls, str(c.args[0]))
        const f = field('remove_from_')
        const key = str(c.args[1])
        const map = Object.fromEntries(Object.entries(r[f] as Record<string, XapiValue>).filter(([k]) => k !== key))
        db.set(cls, str(c.args[0]), { [f]: map })
        return ''
      }
    }
    if (name.startsWith('add_') && db.model.fieldType(cls, field('add_')) !== undefined) {
      return (c) => {
        db.addTo(cls, str(c.args[0]), field('add_'), str(c.args[1]))
        return ''
      }
    }
    if (name.startsWith('remove_') && db.model.fieldType(cls, field('remove_')) !== undefined) {
      return (c) => {
        db.removeFrom(cls, str(c.args[0]), field('remove_'), str(c.args[1]))
        return ''
      }
    }
    return () => {
      throw new XapiFault('NOT_IMPLEMENTED', [`${cls}.${name}${message.implicit ? '' : ' (the simulator does not implement it)'}`])
    }
  }
}
