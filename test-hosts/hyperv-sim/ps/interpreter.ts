/**
 * Runs a parsed script of the subset: scopes, pipelines (output streams to the host as each top-level statement
 * produces it, as in PowerShell, so a script can print and then block on stdin), ErrorActionPreference, try/catch
 * with $_ as an ErrorRecord, exit codes, and the handful of .NET static members the adapter's bootstrap uses.
 * Cmdlets come from a registry (core cmdlets here, Hyper-V cmdlets from the simulated host).
 */
import type { CommandArg, Expr, Pipeline, PipelineElement, Statement } from './ast'
import { bindArguments, type CmdletDef, type RawArg } from './cmdlet'
import type { Edition } from './json'
import { DotNet } from './dotnet'
import { parseScript } from './parser'
import {
  ExitSignal,
  NetObject,
  PsBytes,
  PsDate,
  PsEnum,
  PsError,
  PsGuid,
  PsHashtable,
  PsObject,
  ScriptBlock,
  SimulatorLimit,
  asArray,
  errorRecord,
  isArray,
  psEquals,
  psToString,
  single,
  truthy,
  type ErrorInfo,
  type PsValue,
} from './values'

export type OutputEncoding = 'oem' | 'utf8' | 'utf8bom'

export interface StdinReader {
  readAll(signal: AbortSignal): Promise<string>
  readLine(signal: AbortSignal): Promise<string | null>
}

/** Host-side .NET members that need the simulated machine (file locks for [System.IO.File]::Open). */
export interface HostStatics {
  openFile(path: string, mode: string, access: string, share: string): NetObject
}

export interface SessionOptions {
  readonly edition: Edition
  readonly version: string
  readonly signal: AbortSignal
  readonly stdin: StdinReader
  readonly cmdlets: ReadonlyMap<string, CmdletDef>
  readonly env: Readonly<Record<string, string>>
  readonly statics: HostStatics
  /** Cmdlets that really are absent on this host (a module not installed): "not recognized", not a simulator limit. */
  readonly absentCommands?: ReadonlySet<string>
  writeOut(text: string): void
  writeError(info: ErrorInfo): void
  warn(message: string): void
  setOutputEncoding(encoding: OutputEncoding): void
}

class Scope {
  private readonly vars = new Map<string, PsValue>()
  constructor(private readonly parent?: Scope) {}
  get(name: string): PsValue | undefined {
    const key = name.toLowerCase()
    if (this.vars.has(key)) return this.vars.get(key) ?? null
    return this.parent?.get(name)
  }
  set(name: string, value: PsValue): void {
    this.vars.set(name.toLowerCase(), value)
  }
}

type Sink = (v: PsValue) => void


export class Interpreter {
  private readonly global = new Scope()
  private readonly dotnet: DotNet

  constructor(private readonly s: SessionOptions) {
    this.dotnet = new DotNet(s)
    this.global.set('ErrorActionPreference', 'Continue')
    this.global.set('ProgressPreference', 'Continue')
    this.global.set('WarningPreference', 'Continue')
    const version = new PsObject('System.Version', s.version.split('.').map((n, i) => [['Major', 'Minor', 'Build', 'Revision'][i] ?? `Part${i}`, Number(n)] as const), true, s.version)
    const table = new PsHashtable(false)
    table.set('PSVersion', version)
    table.set('PSEdition', s.edition)
    this.global.set('PSVersionTable', table)
  }

  /** Runs a whole script; returns the process exit code. Output is written as it is produced. */
  async run(script: string): Promise<number> {
    let body: Statement[]
    try {
      body = parseScript(script)
    } catch (e) {
      if (e instanceof PsError) {
        this.s.writeError(e.info)
        return 1
      }
      throw e
    }
    try {
      await this.statements(body, this.global, (v) => this.emit(v))
      return 0
    } catch (e) {
      if (e instanceof ExitSignal) return e.code
      if (e instanceof PsError) {
        this.s.writeError(e.info)
        return 1
      }
      throw e
    }
  }

  private emit(v: PsValue): void {
    if (v === null) return
    if (isArray(v)) {
      for (const x of v) this.emit(x)
      return
    }
    if (v instanceof PsObject && v.typeName !== 'System.Management.Automation.PSCustomObject' && !v.typeName.startsWith('Selected.')) {
      this.s.writeOut(v.toString())
      return
    }
    if (v instanceof PsObject || v instanceof PsHashtable) {
      const entries = v instanceof PsHashtable ? [...v.entries.values()].map((e) => [e.key, e.value] as const) : [...v.props.values()].map((p) => [p.name, p.value] as const)
      const width = Math.max(0, ...entries.map(([k]) => k.length))
      this.s.writeOut('')
      for (const [k, x] of entries) this.s.writeOut(`${k.padEnd(width)} : ${psToString(x)}`)
      this.s.writeOut('')
      return
    }
    this.s.writeOut(psToString(v))
  }

  private preference(scope: Scope): string {
    return psToString(scope.get('ErrorActionPreference') ?? 'Continue').toLowerCase()
  }

  async statements(body: readonly Statement[], scope: Scope, sink: Sink): Promise<void> {
    for (const st of body) {
      this.s.signal.throwIfAborted()
      await this.statement(st, scope, sink)
    }
  }

  private async statement(st: Statement, scope: Scope, sink: Sink): Promise<void> {
    switch (st.t) {
      case 'pipeline':
        await this.pipeline(st.pipeline, scope, sink)
        return
      case 'assign':
        scope.set(st.name, await this.pipelineValue(st.value, scope))
        return
      case 'assign-static': {
        const out: PsValue[] = []
        await this.pipeline(st.value, scope, (v) => out.push(v))
        this.dotnet.setStatic(st.type, st.name, single(out.length === 1 ? (out[0] ?? null) : out))
        return
      }
      case 'if': {
        for (const clause of st.clauses) {
          const out: PsValue[] = []
          await this.pipeline(clause.cond, scope, (v) => out.push(v))
          if (truthy(out.length === 1 ? (out[0] ?? null) : out)) {
            await this.statements(clause.body, scope, sink)
            return
          }
        }
        if (st.otherwise) await this.statements(st.otherwise, scope, sink)
        return
      }
      case 'foreach': {
        const out: PsValue[] = []
        await this.pipeline(st.source, scope, (v) => out.push(v))
        for (const item of out.flatMap((v) => asArray(v))) {
          scope.set(st.variable, item)
          await this.statements(st.body, scope, sink)
        }
        return
      }
      case 'try':
        try {
          await this.statements(st.body, scope, sink)
        } catch (e) {
          if (!(e instanceof PsError) || !st.catchBody) throw e
          const previous = scope.get('_')
          scope.set('_', errorRecord(e.info))
          try {
            await this.statements(st.catchBody, scope, sink)
          } finally {
            scope.set('_', previous ?? null)
          }
        } finally {
          if (st.finallyBody) await this.statements(st.finallyBody, scope, sink)
        }
        return
      case 'exit': {
        const v = st.value ? single(await this.expr(st.value, scope)) : 0
        throw new ExitSignal(Number(psToString(v)) | 0)
      }
      case 'throw': {
        const v = st.value ? single(await this.expr(st.value, scope)) : null
        if (v instanceof PsObject && v.typeName === 'System.Management.Automation.ErrorRecord') {
          throw new PsError({ message: psToString(v), fqid: psToString(v.get('FullyQualifiedErrorId')), category: 'NotSpecified', exceptionType: 'System.Management.Automation.RuntimeException' })
        }
        const message = v === null ? 'ScriptHalted' : psToString(v)
        throw new PsError({ message, fqid: message, category: 'OperationStopped', exceptionType: 'System.Management.Automation.RuntimeException', targetName: message })
      }
    }
  }

  /**
   * The value of `$x = …` and `(…)`: a lone expression keeps its value as it is (an @() array stays an array); a
   * command pipeline collects its output ($null for none, the object itself for one, an array for several).
   */
  private async pipelineValue(p: Pipeline, scope: Scope): Promise<PsValue> {
    const only = p.elements.length === 1 ? p.elements[0] : undefined
    if (only?.t === 'expr') return await this.expr(only.expr, scope)
    const out: PsValue[] = []
    await this.pipeline(p, scope, (v) => out.push(v))
    return out.length === 0 ? null : out.length === 1 ? (out[0] ?? null) : out
  }

  private async pipeline(p: Pipeline, scope: Scope, sink: Sink): Promise<void> {
    let input: PsValue[] | undefined
    for (let i = 0; i < p.elements.length; i++) {
      const el = p.elements[i] as PipelineElement
      const last = i === p.elements.length - 1
      const out: PsValue[] = []
      const target: Sink = last ? sink : (v) => out.push(v)
      if (el.t === 'expr') {
        if (i > 0) throw new PsError({ message: 'Expressions are only allowed as the first element of a pipeline.', fqid: 'ExpressionsMustBeFirstInPipeline', category: 'ParserError', exceptionType: 'System.Management.Automation.ParseException' })
        const v = await this.expr(el.expr, scope)
        // An expression's value enters the pipeline enumerated, as PowerShell does with arrays.
        for (const x of asArray(v)) target(x)
      } else if (el.t === 'call') {
        const callee = single(await this.expr(el.target, scope))
        if (!(callee instanceof ScriptBlock)) throw new SimulatorLimit('the call operator & on anything but a script block')
        if (el.args.length > 0) throw new SimulatorLimit('arguments to a script block')
        if (input !== undefined) throw new SimulatorLimit('piping into a script block')
        await this.statements(callee.body, new Scope(scope), target)
      } else {
        await this.command(el.name, el.args, scope, input, target)
      }
      input = out
    }
  }

  private async command(name: string, args: readonly CommandArg[], scope: Scope, input: PsValue[] | undefined, sink: Sink): Promise<void> {
    const def = this.s.cmdlets.get(name.toLowerCase())
    if (!def) {
      if (/\.(exe|cmd|bat|ps1)$/i.test(name) || /[\\/]/.test(name)) throw new SimulatorLimit(`running the program ${name} from a script`)
      // A Verb-Noun name is most likely a real cmdlet the simulator does not model: fail loudly, not "not found".
      if (/^[A-Za-z]+-[A-Za-z]+$/.test(name) && this.s.absentCommands?.has(name.toLowerCase()) !== true) throw new SimulatorLimit(`the cmdlet ${name}`)
      throw new PsError({
        message: `The term '${name}' is not recognized as the name of a cmdlet, function, script file, or operable program. Check the spelling of the name, or if a path was included, verify that the path is correct and try again.`,
        fqid: 'CommandNotFoundException',
        category: 'ObjectNotFound',
        exceptionType: 'System.Management.Automation.CommandNotFoundException',
        targetName: name,
      })
    }
    const raw: RawArg[] = []
    for (const a of args) {
      if (a.kind === 'param') raw.push(a.value ? { kind: 'param', name: a.name, value: await this.expr(a.value, scope), hasValue: true } : { kind: 'param', name: a.name, hasValue: false })
      else raw.push({ kind: 'value', value: await this.expr(a.value, scope), hasValue: true })
    }
    const bound = bindArguments(def, raw, this.s.edition)
    const action = psToString(bound.get('ErrorAction') ?? this.preference(scope)).toLowerCase()
    let result: PsValue[]
    try {
      result = await def.run({ edition: this.s.edition, signal: this.s.signal, warn: (m) => this.s.warn(m), interactive: false }, bound, input)
    } catch (e) {
      if (!(e instanceof PsError)) throw e
      const info: ErrorInfo = { ...e.info, activity: e.info.activity ?? def.name }
      if (action === 'stop') throw new PsError(info)
      if (action !== 'silentlycontinue' && action !== 'ignore') this.s.writeError(info)
      return
    }
    for (const v of result) sink(v)
  }

  async expr(e: Expr, scope: Scope): Promise<PsValue> {
    switch (e.t) {
      case 'str':
      case 'num':
        return e.v
      case 'const':
        return e.v
      case 'var': {
        const v = scope.get(e.name)
        return v === undefined ? null : v
      }
      case 'env':
        return Object.entries(this.s.env).find(([k]) => k.toLowerCase() === e.name.toLowerCase())?.[1] ?? null
      case 'array': {
        const out: PsValue[] = []
        for (const item of e.items) out.push(await this.expr(item, scope))
        return out
      }
      case 'subexpr': {
        const out: PsValue[] = []
        await this.statements(e.body, scope, (v) => out.push(v))
        return out
      }
      case 'paren':
        return await this.pipelineValue(e.pipeline, scope)
      case 'hash': {
        const h = new PsHashtable(e.ordered)
        for (const [k, v] of e.entries) h.set(k, await this.expr(v, scope))
        return h
      }
      case 'block':
        return new ScriptBlock(e.body, e.text)
      case 'member':
        return this.member(await this.expr(e.target, scope), e.name)
      case 'invoke': {
        const target = await this.expr(e.target, scope)
        const args: PsValue[] = []
        for (const a of e.args) args.push(await this.expr(a, scope))
        return await this.invoke(target, e.name, args)
      }
      case 'static': {
        const args: PsValue[] = []
        for (const a of e.args ?? []) args.push(await this.expr(a, scope))
        return this.dotnet.callStatic(e.type, e.name, e.args === undefined ? undefined : args)
      }
      case 'cast':
        return this.dotnet.cast(e.type, await this.expr(e.expr, scope))
      case 'index': {
        const target = await this.expr(e.target, scope)
        const index = single(await this.expr(e.index, scope))
        if (isArray(target) && typeof index === 'number') return target[index < 0 ? target.length + index : index] ?? null
        if (target instanceof PsHashtable) return target.get(psToString(index))
        throw new SimulatorLimit('indexing anything but an array by number or a hashtable by key')
      }
      case 'not':
        return !truthy(await this.expr(e.expr, scope))
      case 'neg': {
        const v = single(await this.expr(e.expr, scope))
        return -Number(psToString(v))
      }
      case 'binop':
        return this.binop(e.op, e.left, e.right, scope)
    }
  }

  private async binop(op: string, l: Expr, r: Expr, scope: Scope): Promise<PsValue> {
    if (op === 'and') return truthy(await this.expr(l, scope)) && truthy(await this.expr(r, scope))
    if (op === 'or') return truthy(await this.expr(l, scope)) || truthy(await this.expr(r, scope))
    const left = await this.expr(l, scope)
    const right = single(await this.expr(r, scope))
    const cmp = (a: PsValue): boolean => {
      switch (op) {
        case 'eq':
        case 'ieq':
          return psEquals(a, right)
        case 'ne':
        case 'ine':
          return !psEquals(a, right)
        case 'ceq':
          return psToString(a) === psToString(right)
        case 'cne':
          return psToString(a) !== psToString(right)
        case 'like':
        case 'notlike': {
          const rx = new RegExp(`^${psToString(right).replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'is')
          return rx.test(psToString(a)) === (op === 'like')
        }
        case 'gt':
        case 'lt':
        case 'ge':
        case 'le': {
          const x = typeof a === 'number' ? a : a instanceof PsDate ? a.ms : a instanceof PsEnum ? a.value : NaN
          const y = right instanceof PsDate ? right.ms : Number(psToString(right))
          if (Number.isNaN(x) || Number.isNaN(y)) {
            const c = psToString(a).toLowerCase().localeCompare(psToString(right).toLowerCase())
            return op === 'gt' ? c > 0 : op === 'lt' ? c < 0 : op === 'ge' ? c >= 0 : c <= 0
          }
          return op === 'gt' ? x > y : op === 'lt' ? x < y : op === 'ge' ? x >= y : x <= y
        }
        default:
          throw new SimulatorLimit(`the -${op} operator`)
      }
    }
    if (op === 'contains' || op === 'notcontains') return asArray(left).some((x) => psEquals(x, right)) === (op === 'contains')
    if (op === 'in' || op === 'notin') return asArray(await this.expr(r, scope)).some((x) => psEquals(single(left), x)) === (op === 'in')
    if (op === '+') {
      const a = single(left)
      if (isArray(left) && left.length !== 1) return [...left, ...asArray(right)]
      if (typeof a === 'number') return a + Number(psToString(right))
      return psToString(a) + psToString(right)
    }
    if (op === '-') return Number(psToString(single(left))) - Number(psToString(right))
    if (isArray(left) && left.length !== 1) return left.filter(cmp)
    return cmp(single(left))
  }

  private member(target: PsValue, name: string): PsValue {
    const lower = name.toLowerCase()
    if (target === null) return null
    if (isArray(target)) {
      if (lower === 'count' || lower === 'length') return target.length
      const values = target.map((t) => this.member(t, name))
      return values.length === 1 ? (values[0] ?? null) : values
    }
    if (typeof target === 'string') {
      if (lower === 'length') return target.length
      return null
    }
    if (target instanceof PsObject) return target.get(name)
    if (target instanceof PsHashtable) {
      if (lower === 'count') return target.entries.size
      return target.get(name)
    }
    if (target instanceof NetObject) {
      const key = Object.keys(target.properties).find((k) => k.toLowerCase() === lower)
      if (key === undefined) throw new SimulatorLimit(`property ${name} of ${target.typeName}`)
      return target.properties[key] ?? null
    }
    if (target instanceof PsEnum && lower === 'value__') return target.value
    if (target instanceof PsBytes && (lower === 'length' || lower === 'count')) return target.data.length
    throw new SimulatorLimit(`property ${name} of a ${typeof target === 'object' ? target.constructor.name : typeof target}`)
  }

  private async invoke(target: PsValue, name: string, args: PsValue[]): Promise<PsValue> {
    const lower = name.toLowerCase()
    const t = single(target)
    if (lower === 'tostring' && args.length === 0) return psToString(t)
    if (lower === 'gettype' && args.length === 0) {
      if (t instanceof PsObject) {
        const known = t.has('__type') ? t.get('__type') : null
        if (known !== null) return known
        return new PsObject('System.RuntimeType', [['FullName', t.typeName], ['Name', t.typeName.split('.').pop() ?? t.typeName]], true, t.typeName)
      }
      const full = typeof t === 'string' ? 'System.String' : typeof t === 'number' ? (Number.isInteger(t) ? 'System.Int32' : 'System.Double') : typeof t === 'boolean' ? 'System.Boolean' : t === null ? '' : t instanceof PsGuid ? 'System.Guid' : t instanceof PsDate ? 'System.DateTime' : 'System.Object'
      return new PsObject('System.RuntimeType', [['FullName', full], ['Name', full.split('.').pop() ?? full]], true, full)
    }
    if (typeof t === 'string') {
      if (lower === 'trim' && args.length === 0) return t.trim()
      if (lower === 'tolower' && args.length === 0) return t.toLowerCase()
      if (lower === 'toupper' && args.length === 0) return t.toUpperCase()
    }
    if (t instanceof NetObject) {
      const key = Object.keys(t.methods).find((k) => k.toLowerCase() === lower)
      const fn = key === undefined ? undefined : t.methods[key]
      if (fn) return await fn(args)
    }
    throw new SimulatorLimit(`the method ${name}() on ${t === null ? '$null' : psToString(t).slice(0, 60)}`)
  }

}
