/**
 * The published XAPI datamodel (xapi-project.github.io, _data/xenapi.json) as the record-schema generator reads it:
 * the parts of a class it needs, and the datamodel's own notation for types and defaults (`""`, `{}`,
 * `{"a" -> "b"}`, `Null`, `1.`). Build-time only: nothing at run time imports this. The XAPI simulator
 * (test-hosts/xapi-sim) reads the same file with its own reader, so a misreading here is not hidden by sharing it.
 */
export type XapiValue = string | number | boolean | null | readonly XapiValue[] | { readonly [key: string]: XapiValue }

export interface PublishedClass {
  readonly name: string
  readonly lifecycle: { readonly state: string }
  readonly fields: readonly {
    readonly name: string
    readonly type: string
    readonly qualifier: string
    readonly default?: string
    readonly lifecycle: { readonly state: string }
  }[]
  readonly enums: readonly { readonly name: string; readonly values: readonly { readonly name: string }[] }[]
}

/** Removed classes and fields are left out: a real pool of a current release does not have them. */
export const removed = (x: { readonly lifecycle: { readonly state: string } }): boolean => x.lifecycle.state === 'Removed_s'

const NULL_REF = 'OpaqueRef:NULL'

export type TypeKind = 'string' | 'int' | 'float' | 'bool' | 'datetime' | 'ref' | 'enum' | 'set' | 'map' | 'record' | 'option'

export function typeKind(type: string): TypeKind {
  if (type.endsWith(' map')) return 'map'
  if (type.endsWith(' set')) return 'set'
  if (type.endsWith(' ref')) return 'ref'
  if (type.endsWith(' option')) return 'option'
  if (type.endsWith(' record')) return 'record'
  if (type.startsWith('enum ')) return 'enum'
  if (type === 'int' || type === 'float' || type === 'bool' || type === 'datetime' || type === 'string') return type
  return 'string'
}

/** The value type of a map ("(string -> enum vm_operations) map" → "enum vm_operations"). */
function mapValueType(type: string): string {
  return /^\((.+?) -> (.+)\) map$/.exec(type)?.[2] ?? 'string'
}

function splitTopLevel(body: string): string[] {
  const parts: string[] = []
  let depth = 0
  let quoted = false
  let current = ''
  for (const ch of body) {
    if (ch === '"') quoted = !quoted
    if (!quoted && (ch === '{' || ch === '(')) depth++
    if (!quoted && (ch === '}' || ch === ')')) depth--
    if (!quoted && depth === 0 && ch === ',') {
      parts.push(current.trim())
      current = ''
    } else current += ch
  }
  if (current.trim() !== '') parts.push(current.trim())
  return parts
}

function unquote(s: string): string {
  return s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s
}

/** The datamodel's default notation → a value of `type`; undefined when there is no default. */
export function parseDefault(type: string, raw: string | undefined | null): XapiValue | undefined {
  if (raw === undefined || raw === null) return undefined
  switch (typeKind(type)) {
    case 'int':
      return Number.parseInt(raw, 10)
    case 'float':
      return Number.parseFloat(raw)
    case 'bool':
      return raw === 'true'
    case 'ref':
      return raw === 'Null' ? NULL_REF : raw
    case 'set': {
      const inner = raw.replace(/^\{/, '').replace(/\}$/, '')
      const element = type.replace(/ set$/, '')
      return splitTopLevel(inner).map((p) => parseDefault(element, typeKind(element) === 'string' ? p : unquote(p)) ?? unquote(p))
    }
    case 'map': {
      const inner = raw.replace(/^\{/, '').replace(/\}$/, '')
      const out: Record<string, XapiValue> = {}
      const value = mapValueType(type)
      for (const entry of splitTopLevel(inner)) {
        const [k, v] = entry.split(' -> ')
        if (k === undefined || v === undefined) continue
        out[unquote(k.trim())] = parseDefault(value, typeKind(value) === 'string' ? v.trim() : unquote(v.trim())) ?? unquote(v.trim())
      }
      return out
    }
    default:
      return unquote(raw)
  }
}
