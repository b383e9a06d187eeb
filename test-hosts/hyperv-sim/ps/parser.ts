/**
 * A parser for the PowerShell subset the simulator runs. It follows PowerShell's two parsing modes: command mode
 * (`Get-VM -Id 'x' | Select-Object Id, Name`: bare words are strings, `-Name` is a parameter) and expression mode
 * (`$a -eq 'b'`, `[Console]::In.ReadToEnd()`, `@{ n = 1 }`). Single-quoted strings follow PowerShell exactly, including
 * the typographic quotes ‘ ’ ‚ ‛ that PowerShell also accepts as single quotes. Anything outside the subset — double-quoted
 * strings with `$` or backticks, `${…}`, scoped variables, wildcards in bare words — raises SimulatorLimit instead of
 * being guessed at.
 */
import type { CommandArg, Expr, Pipeline, PipelineElement, Statement } from './ast'
import { DOUBLE_QUOTES, Lexer, SINGLE_QUOTES, parseError } from './lexer'
import { SimulatorLimit } from './values'

const DASHES = new Set(['-', '\u2013', '\u2014', '\u2015'])
const KEYWORDS = new Set(['if', 'try', 'foreach', 'exit', 'throw'])
const COMPARISON = new Set(['eq', 'ne', 'gt', 'ge', 'lt', 'le', 'like', 'notlike', 'ieq', 'ine', 'ceq', 'cne', 'contains', 'notcontains', 'in', 'notin'])
const LOGICAL = new Set(['and', 'or'])
const SIZE_SUFFIX: Record<string, number> = { kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4, pb: 1024 ** 5 }

export function parseScript(src: string): Statement[] {
  const p = new Parser(src)
  const body = p.statements(undefined)
  return body
}

class Parser extends Lexer {
  statements(end: '}' | ')' | undefined): Statement[] {
    const out: Statement[] = []
    for (;;) {
      this.skip(true)
      while (this.peek() === ';') {
        this.pos++
        this.skip(true)
      }
      if (this.pos >= this.src.length) {
        if (end === '}') throw parseError("Missing closing '}' in statement block or type definition.", 'MissingEndCurlyBrace')
        if (end === ')') throw parseError("Missing closing ')' in expression.", 'MissingEndParenthesisInExpression')
        return out
      }
      if (this.peek() === end) return out
      if (this.peek() === '}' || this.peek() === ')') throw parseError(`Unexpected token '${this.peek()}' in expression or statement.`, 'UnexpectedToken')
      out.push(this.statement())
      this.skip(false)
      const c = this.peek()
      if (!(c === '' || c === '\n' || c === '\r' || c === ';' || c === end)) throw parseError(`Unexpected token '${this.src.slice(this.pos, this.pos + 20)}' in expression or statement.`, 'UnexpectedToken')
    }
  }

  private statement(): Statement {
    const w = this.word().toLowerCase()
    const after = this.src[this.pos + w.length] ?? ''
    if (KEYWORDS.has(w) && !/[A-Za-z0-9_-]/.test(after)) return this.keyword(w)
    if (['while', 'do', 'for', 'switch', 'function', 'filter', 'param', 'begin', 'process', 'end', 'trap', 'return', 'break', 'continue', 'class', 'data'].includes(w) && !/[A-Za-z0-9_.-]/.test(after)) {
      throw this.limit(`the keyword "${w}"`)
    }
    if (this.peek() === '$') {
      const save = this.pos
      const name = this.variableName()
      this.skip(false)
      if (/^([+\-*/%]=|\+\+|--)/.test(this.src.slice(this.pos, this.pos + 2))) throw this.limit('compound assignment and ++/-- operators')
      if (name !== undefined && this.peek() === '=' && this.peek(1) !== '=') {
        this.pos++
        this.skip(true)
        if (name === '_' || name.startsWith('env:')) throw this.limit('assignment to an automatic or environment variable')
        return { t: 'assign', name, value: this.pipeline() }
      }
      this.pos = save
    }
    if (this.peek() === '[') {
      const save = this.pos
      const type = this.typeLiteral()
      if (this.peek() === ':' && this.peek(1) === ':') {
        this.pos += 2
        const name = this.word()
        this.pos += name.length
        this.skip(false)
        if (name !== '' && this.peek() === '=' && this.peek(1) !== '=') {
          this.pos++
          this.skip(true)
          return { t: 'assign-static', type, name, value: this.pipeline() }
        }
      }
      this.pos = save
    }
    return { t: 'pipeline', pipeline: this.pipeline() }
  }

  private block(): Statement[] {
    this.expect('{', 'MissingOpenBraceInStatement', "Missing '{' in statement block.")
    const body = this.statements('}')
    this.pos++
    return body
  }

  private keyword(w: string): Statement {
    this.pos += w.length
    if (w === 'exit' || w === 'throw') {
      this.skip(false)
      const c = this.peek()
      const value = c === '' || c === '\n' || c === '\r' || c === ';' || c === '}' ? undefined : this.expression()
      return w === 'exit' ? { t: 'exit', ...(value ? { value } : {}) } : { t: 'throw', ...(value ? { value } : {}) }
    }
    if (w === 'if') {
      const clauses: { cond: Pipeline; body: Statement[] }[] = []
      let otherwise: Statement[] | undefined
      const clause = () => {
        this.expect('(', 'IfStatementMissingCondition', "Missing '(' after 'if' in if statement.")
        this.skip(true)
        const cond = this.pipeline()
        this.expect(')', 'MissingEndParenthesisAfterStatement', "Missing closing ')' after expression in 'if' statement.")
        clauses.push({ cond, body: this.block() })
      }
      clause()
      for (;;) {
        const save = this.pos
        this.skip(true)
        const next = this.word().toLowerCase()
        if (next === 'elseif') {
          this.pos += 6
          clause()
        } else if (next === 'else') {
          this.pos += 4
          otherwise = this.block()
          break
        } else {
          this.pos = save
          break
        }
      }
      return { t: 'if', clauses, ...(otherwise ? { otherwise } : {}) }
    }
    if (w === 'try') {
      const body = this.block()
      let catchBody: Statement[] | undefined
      let finallyBody: Statement[] | undefined
      const save = this.pos
      this.skip(true)
      if (this.word().toLowerCase() === 'catch') {
        this.pos += 5
        this.skip(true)
        if (this.peek() === '[') throw this.limit('typed catch clauses')
        catchBody = this.block()
      } else this.pos = save
      const save2 = this.pos
      this.skip(true)
      if (this.word().toLowerCase() === 'finally') {
        this.pos += 7
        finallyBody = this.block()
      } else this.pos = save2
      if (!catchBody && !finallyBody) throw parseError('The Try statement is missing its Catch or Finally block.', 'MissingCatchOrFinally')
      return { t: 'try', body, ...(catchBody ? { catchBody } : {}), ...(finallyBody ? { finallyBody } : {}) }
    }
    // foreach
    this.expect('(', 'MissingOpenParenthesisAfterKeyword', "Missing opening '(' after keyword 'foreach'.")
    this.skip(true)
    const variable = this.variableName()
    if (variable === undefined) throw parseError("Missing variable name after foreach.", 'MissingVariableNameAfterForeach')
    this.skip(true)
    if (this.word().toLowerCase() !== 'in') throw parseError("Missing 'in' after variable in foreach loop.", 'MissingInInForeach')
    this.pos += 2
    this.skip(true)
    const source = this.pipeline()
    this.expect(')', 'MissingEndParenthesisAfterForeach', "Missing closing ')' after expression in 'foreach' statement.")
    return { t: 'foreach', variable, source, body: this.block() }
  }

  pipeline(): Pipeline {
    const elements: PipelineElement[] = [this.element()]
    for (;;) {
      this.skip(false)
      if (this.peek() === '|' && this.peek(1) !== '|') {
        this.pos++
        this.skip(true)
        elements.push(this.element())
      } else if (this.peek() === '|' || (this.peek() === '&' && this.peek(1) === '&')) throw this.limit('pipeline chain operators && and ||')
      else return { elements }
    }
  }

  private element(): PipelineElement {
    this.skip(false)
    const c = this.peek()
    if (c === '&' && this.peek(1) !== '&') {
      this.pos++
      this.skip(false)
      const target = this.postfix(this.primary())
      return { t: 'call', target, args: this.commandArgs() }
    }
    if (c === '.' && (this.peek(1) === ' ' || this.peek(1) === '\t')) throw this.limit('dot-sourcing')
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[^\s|;(){},'"]+/.exec(this.src.slice(this.pos))
      const name = m?.[0] ?? ''
      this.pos += name.length
      return { t: 'command', name, args: this.commandArgs() }
    }
    return { t: 'expr', expr: this.expression() }
  }

  private commandArgs(): CommandArg[] {
    const args: CommandArg[] = []
    for (;;) {
      this.skip(false)
      const c = this.peek()
      if (c === '' || c === '|' || c === ';' || c === ')' || c === '}' || c === '\n' || c === '\r') return args
      if (DASHES.has(c) && /[A-Za-z_?]/.test(this.peek(1))) {
        this.pos++
        const name = this.word()
        if (name === '') throw this.limit('parameter names with unusual characters')
        this.pos += name.length
        if (this.peek() === ':') {
          this.pos++
          args.push({ kind: 'param', name, value: this.commandValue() })
        } else args.push({ kind: 'param', name })
        continue
      }
      if (c === '-' && this.peek(1) === '-') throw this.limit('-- and --% in a command line')
      if (c === '>' || c === '<' || (c === '2' && this.peek(1) === '>')) throw this.limit('redirection operators')
      args.push({ kind: 'value', value: this.commandValueList() })
    }
  }

  private commandValueList(): Expr {
    const first = this.commandValue()
    const items = [first]
    for (;;) {
      this.skip(false)
      if (this.peek() !== ',') break
      this.pos++
      this.skip(true)
      items.push(this.commandValue())
    }
    return items.length === 1 ? first : { t: 'array', items }
  }

  /** One argument in command mode: a quoted string, a number, a variable or sub-expression, or a bare word. */
  private commandValue(): Expr {
    this.skip(false)
    const c = this.peek()
    if (SINGLE_QUOTES.has(c) || DOUBLE_QUOTES.has(c) || c === '$' || c === '(' || c === '@' || c === '{' || c === '[') return this.postfix(this.primary())
    const m = /^[^\s|;,(){}]+/.exec(this.src.slice(this.pos))
    const text = m?.[0] ?? ''
    if (text === '') throw this.limit('this argument')
    this.pos += text.length
    const num = parseNumber(text)
    if (num !== undefined) return { t: 'num', v: num }
    if (/[$`'"\u2018-\u201e*?[\]]/.test(text)) throw new SimulatorLimit(`bare word "${text}" (variables, quotes or wildcards inside a bare word)`)
    return { t: 'str', v: text }
  }

  expression(): Expr {
    let left = this.comparison()
    for (;;) {
      const op = this.operator(LOGICAL)
      if (op === undefined) return left
      this.skip(true)
      left = { t: 'binop', op, left, right: this.comparison() }
    }
  }

  private comparison(): Expr {
    let left = this.additive()
    for (;;) {
      const op = this.operator(COMPARISON)
      if (op === undefined) return left
      this.skip(true)
      left = { t: 'binop', op, left, right: this.additive() }
    }
  }

  private operator(set: Set<string>): string | undefined {
    const save = this.pos
    this.skip(false)
    if (DASHES.has(this.peek())) {
      const name = /^[A-Za-z]+/.exec(this.src.slice(this.pos + 1))?.[0]?.toLowerCase()
      if (name !== undefined && set.has(name)) {
        this.pos += 1 + name.length
        return name
      }
      if (name !== undefined && /^(match|notmatch|replace|split|join|f|is|isnot|as|band|bor|xor|not|cmatch|imatch|clike|ilike|shl|shr)$/.test(name) && set === COMPARISON) {
        throw this.limit(`the -${name} operator`)
      }
    }
    this.pos = save
    return undefined
  }

  private additive(): Expr {
    let left = this.commaList()
    for (;;) {
      const save = this.pos
      this.skip(false)
      const c = this.peek()
      if (c === '+' || (c === '-' && !/[A-Za-z]/.test(this.peek(1)))) {
        this.pos++
        this.skip(true)
        left = { t: 'binop', op: c, left, right: this.commaList() }
      } else if (c === '*' || c === '/' || c === '%') throw this.limit(`the ${c} operator`)
      else {
        this.pos = save
        return left
      }
    }
  }

  private commaList(): Expr {
    const first = this.unary()
    const save = this.pos
    this.skip(false)
    if (this.peek() !== ',') {
      this.pos = save
      return first
    }
    const items = [first]
    while (this.peek() === ',') {
      this.pos++
      this.skip(true)
      items.push(this.unary())
      const s = this.pos
      this.skip(false)
      if (this.peek() !== ',') {
        this.pos = s
        break
      }
    }
    return { t: 'array', items }
  }

  private unary(): Expr {
    this.skip(false)
    const c = this.peek()
    if (c === '!') {
      this.pos++
      return { t: 'not', expr: this.unary() }
    }
    if (DASHES.has(c) && this.src.slice(this.pos + 1, this.pos + 4).toLowerCase() === 'not' && !/[A-Za-z0-9_]/.test(this.peek(4))) {
      this.pos += 4
      this.skip(false)
      return { t: 'not', expr: this.unary() }
    }
    if (c === '-' && /[0-9.]/.test(this.peek(1))) {
      this.pos++
      return { t: 'neg', expr: this.unary() }
    }
    if (c === '[') {
      const save = this.pos
      const type = this.typeLiteral()
      if (this.peek() === ':' && this.peek(1) === ':') {
        this.pos = save
        return this.postfix(this.primary())
      }
      this.skip(false)
      if (type.toLowerCase() === 'ordered') {
        const hash = this.primary()
        if (hash.t !== 'hash') throw parseError('The ordered attribute can be specified only on a hash literal node.', 'OrderedAttributeOnlyOnHashLiteralNode')
        return { ...hash, ordered: true }
      }
      return { t: 'cast', type, expr: this.unary() }
    }
    return this.postfix(this.primary())
  }

  private postfix(expr: Expr): Expr {
    let e = expr
    for (;;) {
      const c = this.peek()
      if (c === '.' && /[A-Za-z_]/.test(this.peek(1))) {
        this.pos++
        const name = this.word()
        this.pos += name.length
        if (this.peek() === '(') e = { t: 'invoke', target: e, name, args: this.callArgs() }
        else e = { t: 'member', target: e, name }
      } else if (c === '[' && e.t !== 'str') {
        this.pos++
        this.skip(true)
        const index = this.expression()
        this.expect(']', 'MissingEndSquareBracket', "Array index expression is missing or not valid.")
        e = { t: 'index', target: e, index }
      } else return e
    }
  }

  private callArgs(): Expr[] {
    this.pos++ // (
    const args: Expr[] = []
    this.skip(true)
    if (this.peek() === ')') {
      this.pos++
      return args
    }
    for (;;) {
      this.skip(true)
      args.push(this.unary())
      this.skip(true)
      if (this.peek() === ',') {
        this.pos++
        continue
      }
      if (this.peek() === ')') {
        this.pos++
        return args
      }
      throw parseError("Missing ')' in method call.", 'MissingEndParenthesisInMethodCall')
    }
  }

  private primary(): Expr {
    this.skip(false)
    const c = this.peek()
    if (SINGLE_QUOTES.has(c)) return { t: 'str', v: this.singleQuoted() }
    if (DOUBLE_QUOTES.has(c)) return { t: 'str', v: this.doubleQuoted() }
    if (c === '$') {
      if (this.peek(1) === '(') {
        this.pos += 2
        const body = this.statements(')')
        this.pos++
        return { t: 'subexpr', body }
      }
      const name = this.variableName()
      if (name === undefined) throw this.limit('this variable')
      const lower = name.toLowerCase()
      if (lower === 'true') return { t: 'const', v: true }
      if (lower === 'false') return { t: 'const', v: false }
      if (lower === 'null') return { t: 'const', v: null }
      if (lower.startsWith('env:')) return { t: 'env', name: name.slice(4) }
      return { t: 'var', name }
    }
    if (c === '@') {
      if (this.peek(1) === '(') {
        this.pos += 2
        const body = this.statements(')')
        this.pos++
        return { t: 'subexpr', body }
      }
      if (this.peek(1) === '{') {
        this.pos += 2
        return this.hashLiteral()
      }
      throw this.limit('splatting and here-strings')
    }
    if (c === '(') {
      this.pos++
      this.skip(true)
      const pipeline = this.pipeline()
      this.expect(')', 'MissingEndParenthesisInExpression', "Missing closing ')' in expression.")
      return { t: 'paren', pipeline }
    }
    if (c === '{') {
      const start = this.pos
      this.pos++
      const body = this.statements('}')
      this.pos++
      return { t: 'block', body, text: this.src.slice(start + 1, this.pos - 1) }
    }
    if (c === '[') {
      const type = this.typeLiteral()
      if (this.peek() === ':' && this.peek(1) === ':') {
        this.pos += 2
        const name = this.word()
        if (name === '') throw this.limit('this static member')
        this.pos += name.length
        if (this.peek() === '(') return { t: 'static', type, name, args: this.callArgs() }
        return { t: 'static', type, name }
      }
      throw this.limit(`the type literal [${type}] on its own`)
    }
    const m = /^(0x[0-9a-f]+|[0-9]+(\.[0-9]+)?)([a-z]*)/i.exec(this.src.slice(this.pos))
    if (m?.[0]) {
      const num = parseNumber(m[0])
      if (num === undefined) throw this.limit(`the number ${m[0]}`)
      this.pos += m[0].length
      return { t: 'num', v: num }
    }
    if (c === '') throw parseError('An expression was expected after this point.', 'ExpectedExpression')
    throw parseError(`Unexpected token '${this.src.slice(this.pos, this.pos + 20)}' in expression or statement.`, 'UnexpectedToken')
  }

  private hashLiteral(): Expr {
    const entries: [string, Expr][] = []
    for (;;) {
      this.skip(true)
      while (this.peek() === ';') {
        this.pos++
        this.skip(true)
      }
      if (this.peek() === '}') {
        this.pos++
        return { t: 'hash', entries, ordered: false }
      }
      let key: string
      if (SINGLE_QUOTES.has(this.peek())) key = this.singleQuoted()
      else {
        key = this.word()
        if (key === '') throw parseError('Missing key before \'=\' in hash literal.', 'MissingEqualsInHashLiteral')
        this.pos += key.length
      }
      this.skip(false)
      if (this.peek() !== '=') throw parseError("Missing '=' operator after key in hash literal.", 'MissingEqualsInHashLiteral')
      this.pos++
      this.skip(true)
      const value = this.pipeline()
      entries.push([key, value.elements.length === 1 && value.elements[0]?.t === 'expr' ? value.elements[0].expr : { t: 'paren', pipeline: value }])
      this.skip(false)
      const c = this.peek()
      if (c !== ';' && c !== '\n' && c !== '\r' && c !== '}') throw parseError("The hash literal was incomplete.", 'MissingEndCurlyBrace')
    }
  }

}

function parseNumber(text: string): number | undefined {
  const m = /^(0x[0-9a-f]+|[0-9]+(?:\.[0-9]+)?)(kb|mb|gb|tb|pb)?$/i.exec(text)
  if (!m?.[1]) return undefined
  const base = m[1].toLowerCase().startsWith('0x') ? parseInt(m[1], 16) : Number(m[1])
  return base * (m[2] ? (SIZE_SUFFIX[m[2].toLowerCase()] ?? 1) : 1)
}
