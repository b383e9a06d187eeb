/**
 * Characters, words, quoted strings, type literals and variable names of the PowerShell subset — the part of parsing
 * that does not care about statements or expressions. PowerShell treats the typographic quotes ‘ ’ ‚ ‛ as single
 * quotes and “ ” „ as double quotes; so does this.
 */
import { PsError, SimulatorLimit } from './values'

export const SINGLE_QUOTES = new Set(["'", '\u2018', '\u2019', '\u201a', '\u201b'])
export const DOUBLE_QUOTES = new Set(['"', '\u201c', '\u201d', '\u201e'])

export function parseError(message: string, fqid: string): PsError {
  return new PsError({ message, fqid, category: 'ParserError', exceptionType: 'System.Management.Automation.ParseException' })
}

export class Lexer {
  protected pos = 0
  constructor(protected readonly src: string) {}

  protected peek(offset = 0): string {
    return this.src[this.pos + offset] ?? ''
  }

  protected at(): string {
    const line = this.src.slice(0, this.pos).split('\n').length
    return `line ${line}: "${this.src.slice(this.pos, this.pos + 30).replace(/\n/g, '\\n')}"`
  }

  protected limit(what: string): SimulatorLimit {
    return new SimulatorLimit(`${what} at ${this.at()}`)
  }

  /** Spaces, tabs, comments and backtick line continuations; newlines too when `newlines`. */
  protected skip(newlines: boolean): void {
    for (;;) {
      const c = this.peek()
      if (c === ' ' || c === '\t' || (newlines && (c === '\n' || c === '\r'))) this.pos++
      else if (c === '`' && (this.peek(1) === '\n' || (this.peek(1) === '\r' && this.peek(2) === '\n'))) this.pos += this.peek(1) === '\r' ? 3 : 2
      else if (c === '#') {
        while (this.pos < this.src.length && this.peek() !== '\n') this.pos++
      } else if (c === '<' && this.peek(1) === '#') {
        const end = this.src.indexOf('#>', this.pos + 2)
        if (end < 0) throw parseError('The string is missing the terminator: #>.', 'TerminatorExpectedAtEndOfString')
        this.pos = end + 2
      } else return
    }
  }

  protected expect(c: string, fqid: string, message: string): void {
    this.skip(true)
    if (this.peek() !== c) throw parseError(message, fqid)
    this.pos++
  }

  protected word(): string {
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.src.slice(this.pos))
    return m?.[0] ?? ''
  }

  protected typeLiteral(): string {
    this.pos++ // [
    const end = this.src.indexOf(']', this.pos)
    if (end < 0) throw parseError("Missing ']' after type name.", 'EndSquareBracketExpectedAtEndOfType')
    const type = this.src.slice(this.pos, end).trim()
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(type)) throw this.limit(`the type literal [${type}]`)
    this.pos = end + 1
    return type
  }

  protected variableName(): string | undefined {
    if (this.peek() !== '$') return undefined
    const rest = this.src.slice(this.pos + 1)
    if (rest.startsWith('{')) throw this.limit('${…} variable names')
    const env = /^env:([A-Za-z_][A-Za-z0-9_]*)/i.exec(rest)
    if (env?.[1] !== undefined) {
      this.pos += 1 + env[0].length
      return `env:${env[1]}`
    }
    if (/^(script|global|local|private|using):/i.test(rest)) throw this.limit('scoped variables')
    const m = /^(_|[A-Za-z][A-Za-z0-9_]*|\?|\^|\$)/.exec(rest)
    if (!m?.[0]) return undefined
    if (m[0] === '?' || m[0] === '^' || m[0] === '$') throw this.limit(`the automatic variable $${m[0]}`)
    this.pos += 1 + m[0].length
    return m[0]
  }

  protected singleQuoted(): string {
    this.pos++
    let out = ''
    for (;;) {
      if (this.pos >= this.src.length) throw parseError("The string is missing the terminator: '.", 'TerminatorExpectedAtEndOfString')
      const c = this.peek()
      if (SINGLE_QUOTES.has(c)) {
        if (SINGLE_QUOTES.has(this.peek(1))) {
          out += c
          this.pos += 2
          continue
        }
        this.pos++
        return out
      }
      out += c
      this.pos++
    }
  }

  protected doubleQuoted(): string {
    this.pos++
    let out = ''
    for (;;) {
      if (this.pos >= this.src.length) throw parseError('The string is missing the terminator: ".', 'TerminatorExpectedAtEndOfString')
      const c = this.peek()
      if (c === '$' || c === '`') throw this.limit('double-quoted strings with $ or ` (expandable strings)')
      if (DOUBLE_QUOTES.has(c)) {
        if (DOUBLE_QUOTES.has(this.peek(1))) {
          out += c
          this.pos += 2
          continue
        }
        this.pos++
        return out
      }
      out += c
      this.pos++
    }
  }
}
