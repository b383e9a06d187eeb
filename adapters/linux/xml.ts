/**
 * A small XML reader and writer for what libvirt prints (domain, snapshot, checkpoint and backup XML). Everything a
 * host prints is hostile: input size, depth and node count are bounded, entities are only the five predefined ones
 * and character references (no DTDs, so no entity expansion attacks), and malformed input is an error, not a guess.
 */

export interface XmlElement {
  readonly name: string
  attrs: Record<string, string>
  children: XmlNode[]
}
export type XmlNode = XmlElement | string

export class XmlError extends Error {
  override readonly name = 'XmlError'
}

const MAX_INPUT = 16 * 1024 * 1024
const MAX_DEPTH = 100
const MAX_NODES = 200_000
const NAME = /^[A-Za-z_:][-A-Za-z0-9_.:]*/

export function parseXml(text: string): XmlElement {
  if (text.length > MAX_INPUT) throw new XmlError(`XML document too large (${text.length} characters).`)
  let i = 0
  let nodes = 0
  const stack: XmlElement[] = []
  let root: XmlElement | undefined
  const fail = (why: string): never => {
    throw new XmlError(`${why} at character ${i}.`)
  }
  const addText = (t: string) => {
    const top = stack.at(-1)
    if (top === undefined) {
      if (t.trim() !== '') fail('Text outside the root element')
      return
    }
    if (++nodes > MAX_NODES) fail('Too many XML nodes')
    top.children.push(t)
  }
  while (i < text.length) {
    const lt = text.indexOf('<', i)
    if (lt < 0) {
      addText(decodeEntities(text.slice(i)))
      break
    }
    if (lt > i) addText(decodeEntities(text.slice(i, lt)))
    i = lt
    if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i + 4)
      if (end < 0) fail('Unterminated comment')
      i = end + 3
    } else if (text.startsWith('<![CDATA[', i)) {
      const end = text.indexOf(']]>', i + 9)
      if (end < 0) fail('Unterminated CDATA')
      addText(text.slice(i + 9, end))
      i = end + 3
    } else if (text.startsWith('<?', i)) {
      const end = text.indexOf('?>', i + 2)
      if (end < 0) fail('Unterminated processing instruction')
      i = end + 2
    } else if (text.startsWith('<!', i)) {
      fail('Document type declarations are not accepted')
    } else if (text.startsWith('</', i)) {
      const m = NAME.exec(text.slice(i + 2, i + 2 + 256))
      if (m === null) fail('Bad closing tag')
      const name = m?.[0] ?? ''
      const top = stack.pop()
      if (top?.name !== name) fail(`Closing tag </${name}> does not match`)
      i += 2 + name.length
      while (/\s/.test(text[i] ?? '')) i++
      if (text[i] !== '>') fail('Bad closing tag')
      i++
    } else {
      const m = NAME.exec(text.slice(i + 1, i + 1 + 256))
      if (m === null) fail('Bad tag name')
      const name = m?.[0] ?? ''
      i += 1 + name.length
      const attrs: Record<string, string> = Object.create(null) as Record<string, string>
      for (;;) {
        const ws = /^\s*/.exec(text.slice(i, i + 10_000))?.[0].length ?? 0
        i += ws
        const c = text[i]
        if (c === undefined) fail('Unterminated tag')
        if (c === '>' || (c === '/' && text[i + 1] === '>')) break
        if (ws === 0) fail('Missing space between attributes')
        const an = NAME.exec(text.slice(i, i + 256))
        if (an === null) fail('Bad attribute name')
        const attrName = an?.[0] ?? ''
        i += attrName.length
        while (/\s/.test(text[i] ?? '')) i++
        if (text[i] !== '=') fail('Attribute without value')
        i++
        while (/\s/.test(text[i] ?? '')) i++
        const q = text[i]
        if (q !== '"' && q !== "'") fail('Unquoted attribute value')
        const end = text.indexOf(q ?? '"', i + 1)
        if (end < 0) fail('Unterminated attribute value')
        if (Object.prototype.hasOwnProperty.call(attrs, attrName)) fail(`Duplicate attribute ${attrName}`)
        attrs[attrName] = decodeEntities(text.slice(i + 1, end))
        i = end + 1
      }
      if (++nodes > MAX_NODES) fail('Too many XML nodes')
      const el: XmlElement = { name, attrs, children: [] }
      const parent = stack.at(-1)
      if (parent) parent.children.push(el)
      else if (root === undefined) root = el
      else fail('More than one root element')
      if (text[i] === '/') i += 2
      else {
        i += 1
        stack.push(el)
        if (stack.length > MAX_DEPTH) fail('XML nested too deeply')
      }
    }
  }
  if (stack.length > 0) throw new XmlError(`Unclosed element <${stack.at(-1)?.name ?? ''}>.`)
  if (root === undefined) throw new XmlError('No XML element found.')
  return root
}

function decodeEntities(s: string): string {
  if (!s.includes('&')) return s
  return s.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|lt|gt|amp|quot|apos);|&/g, (all, ref: string | undefined) => {
    if (ref === undefined) throw new XmlError('Bare & in XML text.')
    switch (ref) {
      case 'lt':
        return '<'
      case 'gt':
        return '>'
      case 'amp':
        return '&'
      case 'quot':
        return '"'
      case 'apos':
        return "'"
    }
    const code = ref.startsWith('#x') ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10)
    if (!Number.isInteger(code) || code <= 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) throw new XmlError(`Bad character reference ${all}.`)
    return String.fromCodePoint(code)
  })
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`)
}

export function serializeXml(el: XmlElement, indent = ''): string {
  const attrs = Object.entries(el.attrs)
    .map(([k, v]) => ` ${k}='${escapeXml(v)}'`)
    .join('')
  if (el.children.length === 0) return `${indent}<${el.name}${attrs}/>`
  const onlyText = el.children.every((c) => typeof c === 'string')
  if (onlyText) return `${indent}<${el.name}${attrs}>${escapeXml(el.children.filter((c): c is string => typeof c === 'string').join(''))}</${el.name}>`
  const inner = el.children
    .filter((c) => typeof c !== 'string' || c.trim() !== '')
    .map((c) => (typeof c === 'string' ? `${indent}  ${escapeXml(c.trim())}` : serializeXml(c, `${indent}  `)))
  return `${indent}<${el.name}${attrs}>\n${inner.join('\n')}\n${indent}</${el.name}>`
}

export function childElements(el: XmlElement, name?: string): XmlElement[] {
  return el.children.filter((c): c is XmlElement => typeof c !== 'string' && (name === undefined || c.name === name))
}

export function child(el: XmlElement | undefined, name: string): XmlElement | undefined {
  return el === undefined ? undefined : childElements(el, name)[0]
}

/** Follows a path of element names ("devices/disk") and returns every match. */
export function findAll(el: XmlElement, path: string): XmlElement[] {
  let current = [el]
  for (const part of path.split('/')) current = current.flatMap((e) => childElements(e, part))
  return current
}

export function textOf(el: XmlElement | undefined): string | undefined {
  if (el === undefined) return undefined
  return el.children.filter((c): c is string => typeof c === 'string').join('')
}

export function removeChildren(el: XmlElement, name: string): void {
  el.children = el.children.filter((c) => typeof c === 'string' || c.name !== name)
}

export function element(name: string, attrs: Record<string, string> = {}, children: XmlNode[] = []): XmlElement {
  return { name, attrs: { ...attrs }, children }
}
