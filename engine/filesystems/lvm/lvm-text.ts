import { DiskFormatError } from '../../disks/errors'

/**
 * LVM2's metadata text format: `name = value`, `name { ... }`, values are strings, integers or [lists].
 * Parsed into plain nested objects; hostile input is bounded in depth, size and token count.
 */
export type LvmValue = string | number | LvmValue[] | LvmSection
export interface LvmSection {
  readonly [key: string]: LvmValue
}

const MAX_DEPTH = 32
const MAX_TEXT = 16 * 1024 * 1024

export function parseLvmText(text: string, label: string): LvmSection {
  if (text.length > MAX_TEXT) throw new DiskFormatError('too-large', `${label}: LVM metadata is implausibly large`)
  let i = 0
  const fail = (m: string): DiskFormatError => new DiskFormatError('corrupt', `${label}: LVM metadata is damaged (${m} at character ${i})`)
  const skip = (): void => {
    while (i < text.length) {
      const c = text[i]
      if (c === '#') {
        while (i < text.length && text[i] !== '\n') i++
      } else if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\0') i++
      else break
    }
  }
  const ident = (): string => {
    const m = /^[A-Za-z0-9_.+-]+/.exec(text.slice(i, i + 256))
    if (!m) throw fail('expected a name')
    i += m[0].length
    return m[0]
  }
  const value = (depth: number): LvmValue => {
    skip()
    const c = text[i]
    if (c === '"') {
      let out = ''
      i++
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\') i++
        out += text[i] ?? ''
        i++
      }
      if (i >= text.length) throw fail('unterminated string')
      i++
      return out
    }
    if (c === '[') {
      if (depth > MAX_DEPTH) throw fail('nesting too deep')
      i++
      const list: LvmValue[] = []
      skip()
      while (text[i] !== ']') {
        if (i >= text.length) throw fail('unterminated list')
        list.push(value(depth + 1))
        skip()
        if (text[i] === ',') i++
        skip()
      }
      i++
      return list
    }
    const m = /^-?[0-9]+(\.[0-9]+)?/.exec(text.slice(i, i + 40))
    if (!m) throw fail('expected a value')
    i += m[0].length
    return Number(m[0])
  }
  const section = (depth: number, closing: boolean): LvmSection => {
    if (depth > MAX_DEPTH) throw fail('nesting too deep')
    const out: Record<string, LvmValue> = {}
    for (;;) {
      skip()
      if (i >= text.length) {
        if (closing) throw fail('unterminated section')
        return out
      }
      if (text[i] === '}') {
        if (!closing) throw fail('unexpected "}"')
        i++
        return out
      }
      const name = ident()
      skip()
      if (text[i] === '{') {
        i++
        out[name] = section(depth + 1, true)
      } else if (text[i] === '=') {
        i++
        out[name] = value(depth)
      } else throw fail(`expected "=" or "{" after ${name}`)
    }
  }
  return section(0, false)
}

export function isSection(v: LvmValue | undefined): v is LvmSection {
  return typeof v === 'object' && !Array.isArray(v)
}
