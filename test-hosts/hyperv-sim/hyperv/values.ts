/**
 * The values the model's cmdlets take and return: what the pwsh host's bridge (test-hosts/hyperv-pwsh/wire.ts) turns
 * into tagged JSON and the Hyper-V module rebuilds as .NET objects, enums, Guids and dates, and the error records the
 * module writes. Anything the model does not model fails loudly with SimulatorLimit, so the adapter cannot come to
 * depend on behaviour the model merely guessed.
 */

/** A PowerShell object with named properties (PSCustomObject or a modelled .NET/Hyper-V type). */
export class PsObject {
  readonly props = new Map<string, { name: string; value: PsValue }>()
  constructor(
    /** .NET type name as GetType().FullName reports it. */
    readonly typeName: string,
    entries: readonly (readonly [string, PsValue])[] = [],
    /**
     * Properties real PowerShell has on this type but the model does not: reading one fails loudly.
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

/** A hashtable argument (Invoke-CimMethod -Arguments), keys case-insensitive as in PowerShell. */
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

export type PsValue = null | string | number | boolean | PsValue[] | PsObject | PsHashtable | PsEnum | PsDate | PsGuid

/** Something a real host would do that the model does not: the module turns it into a terminating HyperVSimLimit error. */
export class SimulatorLimit extends Error {
  override readonly name = 'SimulatorLimit'
  constructor(what: string) {
    super(`Hyper-V test host: ${what} (not modelled; see test-hosts/hyperv-sim/README.md)`)
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

/** A PowerShell error record, which the module writes with WriteError (the caller's -ErrorAction decides). */
export class PsError extends Error {
  override readonly name = 'PsError'
  constructor(readonly info: ErrorInfo) {
    super(info.message)
  }
}

/** How PowerShell turns a value into a string (casts, -join, output of scalars). */
export function psToString(v: PsValue): string {
  if (v === null) return ''
  if (typeof v === 'string') return v
  if (typeof v === 'boolean') return v ? 'True' : 'False'
  if (typeof v === 'number') return String(v)
  if (Array.isArray(v)) return v.map(psToString).join(' ')
  return v.toString()
}

/** Unwraps the one-element array that pipelines and @() produce when a scalar is expected. */
export function single(v: PsValue): PsValue {
  return Array.isArray(v) && v.length === 1 ? (v[0] ?? null) : v
}

export function asArray(v: PsValue): PsValue[] {
  if (v === null) return []
  return Array.isArray(v) ? v : [v]
}
