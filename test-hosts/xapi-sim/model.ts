import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { CompactClass, CompactMessage, CompactModel } from './datamodel-source'
import { elementType, parseDefault, typeKind, zeroValue, type XapiValue } from './datamodel-values'
import { releasedBy } from './versions'

export type XapiRecord = Record<string, XapiValue>

/**
 * Errors XAPI raises for any call, which the datamodel's per-message lists do not repeat. Names as in
 * xapi-project/xen-api ocaml/idl/datamodel_errors.ml; SR_BACKEND_FAILURE_<n> carries the storage manager's number.
 */
export const genericErrors: ReadonlySet<string> = new Set([
  'SESSION_INVALID',
  'HANDLE_INVALID',
  'MESSAGE_METHOD_UNKNOWN',
  'MESSAGE_PARAMETER_COUNT_MISMATCH',
  'FIELD_TYPE_ERROR',
  'MAP_DUPLICATE_KEY',
  'INTERNAL_ERROR',
  'OPERATION_BLOCKED',
  'TASK_CANCELLED',
  'UUID_INVALID',
  'VDI_IN_USE',
  'VDI_INCOMPATIBLE_TYPE',
  'PERMISSION_DENIED',
  'NOT_IMPLEMENTED',
  // Raised by the role check before any message runs (ocaml/xapi/rbac.ml `check`), so no message lists it.
  'RBAC_PERMISSION_DENIED',
])

/** Values as XAPI unmarshals them: XML-RPC sends ints as strings, and an XVA's records come that way too. */
export function coerce(type: string, value: XapiValue): XapiValue {
  const kind = typeKind(type)
  if ((kind === 'int' || kind === 'float') && typeof value === 'string' && /^-?\d+(\.\d*)?([eE][-+]?\d+)?$/.test(value)) return Number(value)
  if (kind === 'bool' && typeof value === 'string') return value === 'true' || value === '1'
  if (kind === 'set' && Array.isArray(value)) return (value as readonly XapiValue[]).map((v) => coerce(elementType(type), v))
  return value
}

let loaded: Model | undefined

/** The published datamodel as the simulator serves it: classes, fields with defaults, messages, errors, enums. */
export class Model {
  readonly errors: ReadonlySet<string>
  private readonly lower = new Map<string, string>()

  private constructor(readonly data: CompactModel) {
    const errors = new Set<string>()
    for (const c of Object.values(data.classes)) for (const m of Object.values(c.messages)) for (const e of m.errors) errors.add(e)
    this.errors = errors
    for (const name of Object.keys(data.classes)) this.lower.set(name.toLowerCase(), name)
  }

  static load(): Model {
    if (loaded) return loaded
    const file = path.join(path.dirname(fileURLToPath(import.meta.url)), 'datamodel.generated.json')
    loaded = new Model(JSON.parse(readFileSync(file, 'utf8')) as CompactModel)
    return loaded
  }

  classOf(name: string): CompactClass {
    const c = this.data.classes[name]
    if (c === undefined) throw new Error(`The datamodel has no class ${name}`)
    return c
  }

  /** The class name as the datamodel spells it, from any case ("vm" → "VM"), or undefined. */
  className(name: string): string | undefined {
    return this.data.classes[name] !== undefined ? name : this.lower.get(name.toLowerCase())
  }

  message(cls: string, name: string): CompactMessage | undefined {
    return this.data.classes[cls]?.messages[name]
  }

  /** Whether the class exists on a pool running `version` (undefined: the newest), per its release tag. */
  hasClassAt(cls: string, version: string | undefined): boolean {
    const c = this.data.classes[cls]
    return c !== undefined && releasedBy(version, c.since)
  }

  /** The message as a pool running `version` has it: undefined when it (or its class) came later. */
  messageAt(cls: string, name: string, version: string | undefined): CompactMessage | undefined {
    const m = this.message(cls, name)
    return m !== undefined && this.hasClassAt(cls, version) && releasedBy(version, m.since) ? m : undefined
  }

  /** The fields a pool running `version` sends for `cls` (those released by then). */
  fieldsAt(cls: string, version: string | undefined): CompactClass['fields'] {
    return this.classOf(cls).fields.filter((f) => releasedBy(version, f.since))
  }

  /**
   * A record as a pool running `version` sends it: fields that came later are left out, as a pool of that release
   * has no such column (the simulator keeps every field internally).
   */
  recordAt(cls: string, record: XapiRecord, version: string | undefined): XapiRecord {
    if (version === undefined) return record
    const out: XapiRecord = {}
    for (const f of this.fieldsAt(cls, version)) if (f.name in record) out[f.name] = record[f.name] ?? null
    return out
  }

  fieldNames(cls: string): string[] {
    return this.classOf(cls).fields.map((f) => f.name)
  }

  fieldType(cls: string, field: string): string | undefined {
    return this.classOf(cls).fields.find((f) => f.name === field)?.type
  }

  enumValues(name: string): readonly string[] {
    return this.data.enums[name] ?? []
  }

  /** True for an error name a real pool can send: listed by a message, or one of the generic ones. */
  isKnownError(code: string): boolean {
    return this.errors.has(code) || genericErrors.has(code) || /^SR_BACKEND_FAILURE_\d+$/.test(code)
  }

  /** The value of a type without default: the first value of an enum, else the type's zero. */
  zero(type: string): XapiValue {
    if (typeKind(type) === 'enum') return this.enumValues(type.replace(/^enum /, ''))[0] ?? ''
    return zeroValue(type)
  }

  /** A complete record of `cls`: every datamodel field, from `values`, else the default, else the type's zero. */
  newRecord(cls: string, values: Readonly<Record<string, XapiValue>>): XapiRecord {
    const c = this.classOf(cls)
    const out: XapiRecord = {}
    for (const f of c.fields) {
      const given = values[f.name]
      out[f.name] = given !== undefined ? coerce(f.type, given) : (parseDefault(f.type, f.default) ?? this.zero(f.type))
    }
    for (const key of Object.keys(values)) {
      if (!(key in out)) throw new Error(`The simulator tried to set ${cls}.${key}, which the datamodel does not have`)
    }
    return out
  }
}
