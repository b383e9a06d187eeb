/**
 * Cmdlet definitions and PowerShell-style parameter binding: named parameters (case-insensitive, unique prefixes and
 * aliases as PowerShell allows them), switches (`-Force`, `-Confirm:$false`), positional arguments, and the binding
 * errors PowerShell raises for unknown or incomplete parameters. Pipeline input is handed to the cmdlet as a list.
 */
import type { Edition } from './json'
import { PsEnum, PsError, PsGuid, asArray, psToString, single, truthy, SimulatorLimit, type PsValue } from './values'

/** 'object': a typed single object (a one-element array is unwrapped); 'any': [Object], bound exactly as given. */
export type ParamType = 'string' | 'string[]' | 'int' | 'switch' | 'object' | 'any' | 'object[]' | 'guid' | 'enum' | 'bool'

export interface ParamDef {
  readonly type: ParamType
  /** For 'enum': the .NET type name and its members. */
  readonly enumType?: string
  readonly members?: Readonly<Record<string, number>>
  readonly position?: number
  readonly aliases?: readonly string[]
  /** Only in PowerShell 7 (e.g. ConvertTo-Json -AsArray). */
  readonly coreOnly?: boolean
}

export interface CmdletContext {
  readonly edition: Edition
  readonly signal: AbortSignal
  warn(message: string): void
  /** The variables of the calling scope ($_ and friends are not needed by any modelled cmdlet). */
  readonly interactive: false
}

export type Bound = ReadonlyMap<string, PsValue>

export interface CmdletDef {
  readonly name: string
  /** Class name used in FullyQualifiedErrorIds, e.g. "Microsoft.HyperV.PowerShell.Commands.GetVM". */
  readonly errorClass: string
  readonly params: Readonly<Record<string, ParamDef>>
  run(ctx: CmdletContext, args: Bound, input: PsValue[] | undefined): Promise<PsValue[]> | PsValue[]
}

const COMMON: Readonly<Record<string, ParamDef>> = {
  ErrorAction: { type: 'string', aliases: ['ea'] },
  WarningAction: { type: 'string', aliases: ['wa'] },
  InformationAction: { type: 'string', aliases: ['infa'] },
  Verbose: { type: 'switch', aliases: ['vb'] },
  Debug: { type: 'switch', aliases: ['db'] },
  Confirm: { type: 'switch', aliases: ['cf'] },
  WhatIf: { type: 'switch', aliases: ['wi'] },
}

function bindingError(def: CmdletDef, message: string, id: string, category = 'InvalidArgument'): PsError {
  return new PsError({ message, fqid: `${id},${def.errorClass}`, category, exceptionType: 'System.Management.Automation.ParameterBindingException', activity: def.name })
}

function resolveName(def: CmdletDef, name: string, edition: Edition): string {
  const all = { ...def.params, ...COMMON }
  const lower = name.toLowerCase()
  const exact = Object.keys(all).find((k) => k.toLowerCase() === lower || (all[k]?.aliases ?? []).some((a) => a.toLowerCase() === lower))
  const candidates = exact !== undefined ? [exact] : Object.keys(all).filter((k) => k.toLowerCase().startsWith(lower))
  if (candidates.length === 0) throw bindingError(def, `A parameter cannot be found that matches parameter name '${name}'.`, 'NamedParameterNotFound')
  if (candidates.length > 1) throw bindingError(def, `Parameter cannot be processed because the parameter name '${name}' is ambiguous. Possible matches include: ${candidates.map((c) => `-${c}`).join(' ')}.`, 'AmbiguousParameter')
  const resolved = candidates[0] as string
  if (all[resolved]?.coreOnly === true && edition === 'Desktop') throw bindingError(def, `A parameter cannot be found that matches parameter name '${name}'.`, 'NamedParameterNotFound')
  return resolved
}

function convert(def: CmdletDef, name: string, p: ParamDef, value: PsValue): PsValue {
  switch (p.type) {
    case 'switch':
    case 'bool':
      return truthy(value)
    case 'string': {
      const v = single(value)
      if (Array.isArray(v)) throw bindingError(def, `Cannot convert 'System.Object[]' to the type 'System.String' required by parameter '${name}'. Specified method is not supported.`, 'CannotConvertArgument')
      return psToString(v)
    }
    case 'string[]':
      return asArray(value).map(psToString)
    case 'int': {
      const n = Number(psToString(single(value)))
      if (!Number.isFinite(n)) throw bindingError(def, `Cannot bind parameter '${name}'. Cannot convert value "${psToString(value)}" to type "System.Int64". Error: "Input string was not in a correct format."`, 'CannotConvertArgumentNoMessage')
      return n
    }
    case 'guid': {
      const v = single(value)
      if (v instanceof PsGuid) return v
      try {
        return new PsGuid(psToString(v))
      } catch {
        throw bindingError(def, `Cannot bind parameter '${name}'. Cannot convert value "${psToString(v)}" to type "System.Guid". Error: "Guid should contain 32 digits with 4 dashes (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)."`, 'CannotConvertArgumentNoMessage')
      }
    }
    case 'enum': {
      const v = single(value)
      const members = p.members ?? {}
      if (v instanceof PsEnum && v.type === p.enumType) return v
      const text = psToString(v)
      const hit = Object.entries(members).find(([k, n]) => k.toLowerCase() === text.toLowerCase() || String(n) === text)
      if (!hit) {
        throw bindingError(def, `Cannot bind parameter '${name}'. Cannot convert value "${text}" to type "${p.enumType ?? 'enum'}". Error: "Unable to match the identifier name ${text} to a valid enumerator name. Specify one of the following enumerator names and try again:\r\n${Object.keys(members).join(', ')}"`, 'CannotConvertArgumentNoMessage')
      }
      return new PsEnum(p.enumType ?? 'enum', hit[0], hit[1])
    }
    case 'object':
      return single(value)
    case 'any':
      return value
    case 'object[]':
      return asArray(value)
  }
}

export interface RawArg {
  readonly kind: 'param' | 'value'
  readonly name?: string
  readonly value?: PsValue
  readonly hasValue: boolean
}

export function bindArguments(def: CmdletDef, raw: readonly RawArg[], edition: Edition): Map<string, PsValue> {
  const bound = new Map<string, PsValue>()
  const positional: PsValue[] = []
  const all = { ...def.params, ...COMMON }
  for (let i = 0; i < raw.length; i++) {
    const a = raw[i] as RawArg
    if (a.kind === 'value') {
      positional.push(a.value ?? null)
      continue
    }
    const name = resolveName(def, a.name ?? '', edition)
    const p = all[name] as ParamDef
    if (bound.has(name)) throw bindingError(def, `Cannot bind parameter because parameter '${name}' is specified more than once. To provide multiple values to parameters that can accept multiple values, use the array syntax. For example, "-parameter value1,value2,value3".`, 'ParameterAlreadyBound')
    if (p.type === 'switch') {
      bound.set(name, a.hasValue ? truthy(a.value ?? null) : true)
      continue
    }
    let value: PsValue
    if (a.hasValue) value = a.value ?? null
    else {
      const next = raw[i + 1]
      if (next === undefined || next.kind !== 'value') throw bindingError(def, `Missing an argument for parameter '${name}'. Specify a parameter of type '${p.type}' and try again.`, 'MissingArgument')
      value = next.value ?? null
      i++
    }
    bound.set(name, convert(def, name, p, value))
  }
  const slots = Object.entries(def.params)
    .filter(([, p]) => p.position !== undefined)
    .sort((x, y) => (x[1].position ?? 0) - (y[1].position ?? 0))
  for (const value of positional) {
    const slot = slots.find(([n]) => !bound.has(n))
    if (!slot) throw bindingError(def, `A positional parameter cannot be found that accepts argument '${psToString(value)}'.`, 'PositionalParameterNotFound')
    bound.set(slot[0], convert(def, slot[0], slot[1], value))
  }
  for (const k of ['Verbose', 'Debug', 'WhatIf']) if (bound.get(k) === true) throw new SimulatorLimit(`-${k} on ${def.name}`)
  return bound
}

export function str(args: Bound, name: string): string | undefined {
  const v = args.get(name)
  return v === undefined || v === null ? undefined : psToString(v)
}

export function flag(args: Bound, name: string): boolean {
  return args.get(name) === true
}

export function confirmed(args: Bound): boolean {
  return args.get('Confirm') === false
}
