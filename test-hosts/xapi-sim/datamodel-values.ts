/**
 * Values of XAPI datamodel types: the defaults the published datamodel writes in its own notation
 * (`""`, `{}`, `{"a" -> "b"}`, `Null`, `1.`), turned into the values a record carries over JSON-RPC.
 */
export type XapiValue = string | number | boolean | null | readonly XapiValue[] | { readonly [key: string]: XapiValue }

export const NULL_REF = 'OpaqueRef:NULL'
export const EPOCH = '19700101T00:00:00Z'

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

/** The element type of a set ("VDI ref set" → "VDI ref"). */
export function elementType(type: string): string {
  return type.replace(/ set$/, '')
}

/** Key and value types of a map ("(string -> enum vm_operations) map"). */
export function mapTypes(type: string): { key: string; value: string } {
  const m = /^\((.+?) -> (.+)\) map$/.exec(type)
  return { key: m?.[1] ?? 'string', value: m?.[2] ?? 'string' }
}

/** A value of the type when the datamodel gives no default (what a constructor that was not given it stores). */
export function zeroValue(type: string): XapiValue {
  switch (typeKind(type)) {
    case 'int':
    case 'float':
      return 0
    case 'bool':
      return false
    case 'datetime':
      return EPOCH
    case 'ref':
      return NULL_REF
    case 'set':
      return []
    case 'map':
    case 'record':
      return {}
    case 'option':
      return null
    default:
      return ''
  }
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
  const kind = typeKind(type)
  switch (kind) {
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
      const el = elementType(type)
      return splitTopLevel(inner).map((p) => parseDefault(el, typeKind(el) === 'string' ? p : unquote(p)) ?? unquote(p))
    }
    case 'map': {
      const inner = raw.replace(/^\{/, '').replace(/\}$/, '')
      const out: Record<string, XapiValue> = {}
      const { value } = mapTypes(type)
      for (const entry of splitTopLevel(inner)) {
        const [k, v] = entry.split(' -> ')
        if (k === undefined || v === undefined) continue
        out[unquote(k.trim())] = parseDefault(value, typeKind(value) === 'string' ? v.trim() : unquote(v.trim())) ?? unquote(v.trim())
      }
      return out
    }
    case 'string':
      return unquote(raw)
    default:
      return unquote(raw)
  }
}

/** A value as text: strings as they are, numbers and booleans printed, anything else `fallback`. */
export function text(value: unknown, fallback = ''): string {
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return fallback
}
