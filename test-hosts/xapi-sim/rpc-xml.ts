/**
 * The XML-RPC dialect XAPI speaks: calls as <methodCall>, answers as a struct { Status: "Success", Value } or
 * { Status: "Failure", ErrorDescription: [code, ...params] }. XAPI sends 64-bit ints as strings and dates as
 * dateTime.iso8601. Only what XML-RPC needs is parsed; anything else is refused.
 */
import { elementType, mapTypes, typeKind, type XapiValue } from './datamodel-values'

type Node = { name: string; children: Node[]; text: string }

const MAX_DEPTH = 64

function decodeEntities(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, e: string) => {
    if (e === 'lt') return '<'
    if (e === 'gt') return '>'
    if (e === 'amp') return '&'
    if (e === 'quot') return '"'
    if (e === 'apos') return "'"
    const code = e.startsWith('#x') ? Number.parseInt(e.slice(2), 16) : Number.parseInt(e.slice(1), 10)
    return String.fromCodePoint(code)
  })
}

function parseXml(xml: string): Node {
  const root: Node = { name: '#root', children: [], text: '' }
  const stack: Node[] = [root]
  const re = /<\?[^>]*\?>|<!--[\s\S]*?-->|<(\/?)([A-Za-z_][\w.:-]*)[^>]*?(\/?)>|([^<]+)/g
  let m: RegExpExecArray | null
  while ((m = re.exec(xml)) !== null) {
    const top = stack[stack.length - 1]
    if (top === undefined) throw new Error('unbalanced XML')
    if (m[4] !== undefined) {
      top.text += decodeEntities(m[4])
      continue
    }
    if (m[2] === undefined) continue
    if (m[1] === '/') {
      if (top.name !== m[2]) throw new Error(`unexpected </${m[2]}>`)
      stack.pop()
    } else {
      const node: Node = { name: m[2], children: [], text: '' }
      top.children.push(node)
      if (m[3] !== '/') {
        if (stack.length > MAX_DEPTH) throw new Error('XML nested too deeply')
        stack.push(node)
      }
    }
  }
  if (stack.length !== 1) throw new Error('unbalanced XML')
  return root
}

function child(node: Node, name: string): Node | undefined {
  return node.children.find((c) => c.name === name)
}

function decodeValue(value: Node): XapiValue {
  const inner = value.children[0]
  if (inner === undefined) return value.text
  switch (inner.name) {
    case 'string':
      return inner.text
    case 'int':
    case 'i4':
    case 'i8':
      return Number.parseInt(inner.text, 10)
    case 'double':
      return Number.parseFloat(inner.text)
    case 'boolean':
      return inner.text.trim() === '1'
    case 'dateTime.iso8601':
      return inner.text.trim()
    case 'nil':
      return null
    case 'array':
      return (child(inner, 'data')?.children ?? []).filter((c) => c.name === 'value').map(decodeValue)
    case 'struct': {
      const out: Record<string, XapiValue> = {}
      for (const member of inner.children.filter((c) => c.name === 'member')) {
        const name = child(member, 'name')?.text ?? ''
        const v = child(member, 'value')
        if (v) out[name] = decodeValue(v)
      }
      return out
    }
    default:
      throw new Error(`unknown XML-RPC type ${inner.name}`)
  }
}

/** A document whose root is one <value> (XVA's ova.xml). */
export function parseXmlRpcValue(xml: string): XapiValue {
  const root = parseXml(xml)
  const value = child(root, 'value')
  if (!value) throw new Error('no <value> at the top')
  return decodeValue(value)
}

export function parseXmlRpcCall(xml: string): { method: string; params: XapiValue[] } {
  const root = parseXml(xml)
  const call = child(root, 'methodCall')
  const method = call ? child(call, 'methodName')?.text.trim() : undefined
  if (!call || method === undefined) throw new Error('not an XML-RPC methodCall')
  const params = (child(call, 'params')?.children ?? []).filter((p) => p.name === 'param').map((p) => {
    const v = child(p, 'value')
    if (!v) throw new Error('param without value')
    return decodeValue(v)
  })
  return { method, params }
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** Encodes a value the way XAPI does for `type` (a datamodel type, or undefined when unknown). */
export function encodeValue(value: XapiValue, type: string | undefined, fieldType?: (cls: string, field: string) => string | undefined): string {
  const kind = type === undefined ? undefined : typeKind(type)
  if (value === null) return '<value><nil/></value>'
  if (typeof value === 'boolean') return `<value><boolean>${value ? 1 : 0}</boolean></value>`
  if (typeof value === 'number') {
    if (kind === 'float' || (kind === undefined && !Number.isInteger(value))) return `<value><double>${value}</double></value>`
    return `<value><string>${value}</string></value>`
  }
  if (typeof value === 'string') {
    if (kind === 'datetime') return `<value><dateTime.iso8601>${escape(value)}</dateTime.iso8601></value>`
    return `<value>${escape(value)}</value>`
  }
  if (Array.isArray(value)) {
    const el = type !== undefined && kind === 'set' ? elementType(type) : undefined
    return `<value><array><data>${(value as readonly XapiValue[]).map((v) => encodeValue(v, el, fieldType)).join('')}</data></array></value>`
  }
  const record = value as Record<string, XapiValue>
  const recordClass = type !== undefined && kind === 'record' ? type.replace(/ record$/, '') : undefined
  const valueType = type !== undefined && kind === 'map' ? mapTypes(type).value : undefined
  const members = Object.entries(record).map(([k, v]) => {
    const t = recordClass !== undefined ? fieldType?.(recordClass, k) : valueType
    return `<member><name>${escape(k)}</name>${encodeValue(v, t, fieldType)}</member>`
  })
  return `<value><struct>${members.join('')}</struct></value>`
}

export function xmlRpcSuccess(value: XapiValue, type: string | undefined, fieldType: (cls: string, field: string) => string | undefined): string {
  return `<?xml version="1.0"?><methodResponse><params><param><value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name>${encodeValue(value, type, fieldType)}</member></struct></value></param></params></methodResponse>`
}

export function xmlRpcFailure(code: string, params: readonly string[]): string {
  const items = [code, ...params].map((p) => `<value>${escape(p)}</value>`).join('')
  return `<?xml version="1.0"?><methodResponse><params><param><value><struct><member><name>Status</name><value>Failure</value></member><member><name>ErrorDescription</name><value><array><data>${items}</data></array></value></member></struct></value></param></params></methodResponse>`
}
