/**
 * The values a script in the simulator's PowerShell subset works with. Only what Lifeboat's Hyper-V adapter (and an
 * admin poking at the simulator by hand) needs is modelled; everything else fails loudly with SimulatorLimit, so the
 * adapter cannot come to depend on behaviour the simulator merely guessed.
 */
import type { Statement } from './ast'

/** A PowerShell object with named properties (PSCustomObject or a modelled .NET/Hyper-V type). */
export class PsObject {
  readonly props = new Map<string, { name: string; value: PsValue }>()
  constructor(
    /** .NET type name as GetType().FullName reports it. */
    readonly typeName: string,
    entries: readonly (readonly [string, PsValue])[] = [],
    /**
     * Properties real PowerShell has on this type but the simulator does not model: reading one fails loudly.
     * For PSCustomObjects this is false and an unknown property is simply $null, as in PowerShell.
     */
    readonly strict = false,
    private readonly text?: string,
  ) {
    for (const [k, v] of entries) this.set(k, v)
  }
  set(name: string, value: PsValue): void {
    const key = name.toLowerCase()
    const existing = this.props.get(key)
    this.props.set(key, { name: existing?.name ?? name, value })
  }
  has(name: string): boolean {
    return this.props.has(name.toLowerCase())
  }
  get(name: string): PsValue {
    const hit = this.props.get(name.toLowerCase())
    if (hit) return hit.value
    if (this.strict) throw new SimulatorLimit(`property "${name}" of ${this.typeName} is not modelled`)
    return null
  }
  toString(): string {
    if (this.text !== undefined) return this.text
    if (this.typeName === 'System.Management.Automation.PSCustomObject') {
      return `@{${[...this.props.values()].map((p) => `${p.name}=${psToString(p.value)}`).join('; ')}}`
    }
    return this.typeName
  }
}

/** A hashtable literal: @{} (unordered in PowerShell; kept in insertion order here) or [ordered]@{}. */
export class PsHashtable {
  readonly entries = new Map<string, { key: string; value: PsValue }>()
  constructor(readonly ordered: boolean) {}
  set(key: string, value: PsValue): void {
    this.entries.set(key.toLowerCase(), { key, value })
  }
  get(key: string): PsValue {
    return this.entries.get(key.toLowerCase())?.value ?? null
  }
  toString(): string {
    return this.ordered ? 'System.Collections.Specialized.OrderedDictionary' : 'System.Collections.Hashtable'
  }
}

/** A .NET enum value: ConvertTo-Json writes its number (Windows PowerShell has no -EnumsAsStrings). */
export class PsEnum {
  constructor(
    readonly type: string,
    readonly name: string,
    readonly value: number,
  ) {}
  toString(): string {
    return this.name
  }
}

/** System.DateTime (Kind Local, on a host whose time zone is UTC). */
export class PsDate {
  constructor(readonly ms: number) {}
  toString(): string {
    // The invariant "G" pattern PowerShell uses when a DateTime becomes a string in a cast.
    const d = new Date(this.ms)
    const p = (n: number) => String(n).padStart(2, '0')
    return `${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())}/${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`
  }
}

export class PsGuid {
  readonly value: string
  constructor(text: string) {
    const m = /^\{?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\}?$/i.exec(text.trim())
    if (m?.[1] === undefined) throw new PsError({ message: `Cannot convert value "${text}" to type "System.Guid". Error: "Guid should contain 32 digits with 4 dashes (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)."`, fqid: 'InvalidCastParseTargetInvocation', category: 'InvalidArgument', exceptionType: 'System.Management.Automation.RuntimeException' })
    this.value = m[1].toLowerCase()
  }
  toString(): string {
    return this.value
  }
}

export class ScriptBlock {
  constructor(
    readonly body: readonly Statement[],
    readonly text: string,
  ) {}
  toString(): string {
    return this.text
  }
}

/** Byte arrays ([Convert]::FromBase64String) and other .NET objects with methods the subset calls. */
export class NetObject {
  constructor(
    readonly typeName: string,
    readonly methods: Readonly<Record<string, (args: PsValue[]) => PsValue | Promise<PsValue>>>,
    readonly properties: Readonly<Record<string, PsValue>> = {},
  ) {}
  toString(): string {
    return this.typeName
  }
}

export class PsBytes {
  constructor(readonly data: Buffer) {}
  toString(): string {
    return 'System.Byte[]'
  }
}

export type PsValue = null | string | number | boolean | PsValue[] | PsObject | PsHashtable | PsEnum | PsDate | PsGuid | ScriptBlock | NetObject | PsBytes

/** Something real PowerShell would do that the simulator does not model: never catchable by a script. */
export class SimulatorLimit extends Error {
  override readonly name = 'SimulatorLimit'
  constructor(what: string) {
    super(`Hyper-V simulator: ${what} (not in the simulated PowerShell subset; see test-hosts/hyperv-sim/README.md)`)
  }
}

export interface ErrorInfo {
  readonly message: string
  /** FullyQualifiedErrorId, e.g. "InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM". */
  readonly fqid: string
  /** System.Management.Automation.ErrorCategory name. */
  readonly category: string
  readonly exceptionType: string
  readonly targetName?: string
  readonly targetType?: string
  /** The cmdlet that raised it ("Get-VM"); Activity in CategoryInfo. */
  readonly activity?: string
}

/** A PowerShell error record; terminating when thrown (ErrorActionPreference Stop, throw, parameter binding). */
export class PsError extends Error {
  override readonly name = 'PsError'
  constructor(readonly info: ErrorInfo) {
    super(info.message)
  }
}

export class ExitSignal extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`)
  }
}

export const ERROR_CATEGORIES = [
  'NotSpecified', 'OpenError', 'CloseError', 'DeviceError', 'DeadlockDetected', 'InvalidArgument', 'InvalidData', 'InvalidOperation',
  'InvalidResult', 'InvalidType', 'MetadataError', 'NotImplemented', 'NotInstalled', 'ObjectNotFound', 'OperationStopped', 'OperationTimeout',
  'SyntaxError', 'ParserError', 'PermissionDenied', 'ResourceBusy', 'ResourceExists', 'ResourceUnavailable', 'ReadError', 'WriteError',
  'FromStdErr', 'SecurityError', 'ProtocolError', 'ConnectionError', 'AuthenticationError', 'LimitsExceeded', 'QuotaExceeded', 'NotEnabled',
] as const

/** The $_ of a catch block: ErrorRecord with Exception, CategoryInfo, FullyQualifiedErrorId, TargetObject. */
export function errorRecord(info: ErrorInfo): PsObject {
  const exceptionType = new PsObject('System.RuntimeType', [['FullName', info.exceptionType], ['Name', info.exceptionType.split('.').pop() ?? info.exceptionType]], true, info.exceptionType)
  const exception = new PsObject(info.exceptionType, [['Message', info.message]], true, info.message)
  exception.set('__type', exceptionType)
  const index = ERROR_CATEGORIES.indexOf(info.category as (typeof ERROR_CATEGORIES)[number])
  if (index < 0) throw new SimulatorLimit(`error category ${info.category}`)
  const reason = info.exceptionType.split('.').pop() ?? ''
  const categoryInfo = new PsObject(
    'System.Management.Automation.ErrorCategoryInfo',
    [
      ['Category', new PsEnum('System.Management.Automation.ErrorCategory', info.category, index)],
      ['Activity', info.activity ?? ''],
      ['Reason', reason],
      ['TargetName', info.targetName ?? ''],
      ['TargetType', info.targetType ?? (info.targetName !== undefined ? 'String' : '')],
    ],
    true,
    `${info.category}: (${info.targetName ?? ''}:${info.targetType ?? (info.targetName !== undefined ? 'String' : '')}) [${info.activity ?? ''}], ${reason}`,
  )
  const invocation = new PsObject('System.Management.Automation.InvocationInfo', [['MyCommand', info.activity !== undefined ? new PsObject('System.Management.Automation.CmdletInfo', [['Name', info.activity]], true, info.activity) : null]], true)
  return new PsObject(
    'System.Management.Automation.ErrorRecord',
    [
      ['Exception', exception],
      ['CategoryInfo', categoryInfo],
      ['FullyQualifiedErrorId', info.fqid],
      ['TargetObject', info.targetName ?? null],
      ['InvocationInfo', invocation],
      ['ErrorDetails', null],
      ['ScriptStackTrace', ''],
    ],
    true,
    info.message,
  )
}

export function isArray(v: PsValue): v is PsValue[] {
  return Array.isArray(v)
}

/** How PowerShell turns a value into a string (casts, -join, output of scalars). */
export function psToString(v: PsValue): string {
  if (v === null) return ''
  if (typeof v === 'string') return v
  if (typeof v === 'boolean') return v ? 'True' : 'False'
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(v)
  if (Array.isArray(v)) return v.map(psToString).join(' ')
  return v.toString()
}

/** PowerShell truthiness ($null, '', 0, $false, empty arrays are false). */
export function truthy(v: PsValue): boolean {
  if (v === null) return false
  if (typeof v === 'boolean') return v
  if (typeof v === 'number') return v !== 0
  if (typeof v === 'string') return v.length > 0
  if (Array.isArray(v)) return v.length === 1 ? truthy(v[0] ?? null) : v.length > 0
  return true
}

/** -eq with PowerShell's conversion of the right side to the left side's type (case-insensitive for strings). */
export function psEquals(a: PsValue, b: PsValue): boolean {
  if (a === null || b === null) return a === b
  if (a instanceof PsEnum) {
    if (typeof b === 'string') return a.name.toLowerCase() === b.toLowerCase()
    if (typeof b === 'number') return a.value === b
    if (b instanceof PsEnum) return a.value === b.value
  }
  if (a instanceof PsGuid) return a.value === psToString(b).toLowerCase().replace(/[{}]/g, '')
  if (typeof a === 'string') return a.toLowerCase() === psToString(b).toLowerCase()
  if (typeof a === 'number') return a === Number(psToString(b))
  if (typeof a === 'boolean') return a === truthy(b)
  if (a instanceof PsDate && b instanceof PsDate) return a.ms === b.ms
  return a === b
}

/** Unwraps the one-element array that pipelines and @() produce when a scalar is expected. */
export function single(v: PsValue): PsValue {
  return Array.isArray(v) && v.length === 1 ? (v[0] ?? null) : v
}

export function asArray(v: PsValue): PsValue[] {
  if (v === null) return []
  return Array.isArray(v) ? v : [v]
}
