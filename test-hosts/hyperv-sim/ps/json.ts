/**
 * ConvertTo-Json as Windows PowerShell 5.1 and PowerShell 7 write it, where the two differ in ways a client must
 * survive:
 * - enums are numbers in both (only PowerShell 7 has -EnumsAsStrings);
 * - DateTime is "\/Date(ms)\/" in 5.1 and ISO 8601 with offset in 7;
 * - 5.1 escapes ' < > & as \u0027 \u003c \u003e \u0026 (JavaScriptSerializer), 7 does not;
 * - beyond -Depth (default 2) objects become their ToString() text; 7.1+ also warns;
 * - a pipeline of one object gives that object, not an array (-AsArray only in 7).
 */
import { NetObject, PsBytes, PsDate, PsEnum, PsGuid, PsHashtable, ScriptBlock, SimulatorLimit, psToString, type PsValue } from './values'

export type Edition = 'Desktop' | 'Core'

export interface JsonOptions {
  readonly depth: number
  readonly compress: boolean
  readonly enumsAsStrings: boolean
  readonly edition: Edition
  /** Called once when something deeper than `depth` was cut off (PowerShell 7.1+ warns). */
  readonly onTruncated?: () => void
}

export function toJson(value: PsValue, options: JsonOptions): string {
  const cut = { truncated: false }
  const enc = (v: PsValue, level: number, indent: string): string => {
    if (v === null) return 'null'
    if (typeof v === 'string') return quote(v, options.edition)
    if (typeof v === 'boolean') return v ? 'true' : 'false'
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return quote(String(v), options.edition)
      return String(v)
    }
    if (v instanceof PsEnum) return options.enumsAsStrings ? quote(v.name, options.edition) : String(v.value)
    if (v instanceof PsGuid) return quote(v.value, options.edition)
    if (v instanceof PsDate) return options.edition === 'Desktop' ? `"\\/Date(${Math.round(v.ms)})\\/"` : quote(isoLocal(v.ms), options.edition)
    if (v instanceof ScriptBlock || v instanceof NetObject || v instanceof PsBytes) throw new SimulatorLimit(`ConvertTo-Json of a ${v.toString()}`)
    const inner = indent + (options.edition === 'Desktop' ? '    ' : '  ')
    if (Array.isArray(v)) {
      if (level > options.depth) {
        cut.truncated = true
        return quote(v.map(psToString).join(' '), options.edition)
      }
      if (v.length === 0) return '[]'
      const items = v.map((x) => enc(x, level + 1, inner))
      return options.compress ? `[${items.join(',')}]` : `[\n${items.map((i) => inner + i).join(',\n')}\n${indent}]`
    }
    if (level > options.depth) {
      cut.truncated = true
      return quote(v.toString(), options.edition)
    }
    const entries: [string, PsValue][] =
      v instanceof PsHashtable ? [...v.entries.values()].map((e) => [e.key, e.value]) : [...v.props.values()].filter((p) => !p.name.startsWith('__')).map((p) => [p.name, p.value])
    if (entries.length === 0) return '{}'
    const sep = options.compress ? ':' : options.edition === 'Desktop' ? ':  ' : ': '
    const parts = entries.map(([k, x]) => `${quote(k, options.edition)}${sep}${enc(x, level + 1, inner)}`)
    return options.compress ? `{${parts.join(',')}}` : `{\n${parts.map((p) => inner + p).join(',\n')}\n${indent}}`
  }
  const out = enc(value, 0, '')
  if (cut.truncated && options.edition === 'Core') options.onTruncated?.()
  return out
}

function quote(s: string, edition: Edition): string {
  let out = '"'
  for (const ch of s) {
    const code = ch.codePointAt(0) ?? 0
    if (ch === '"') out += '\\"'
    else if (ch === '\\') out += '\\\\'
    else if (ch === '\n') out += '\\n'
    else if (ch === '\r') out += '\\r'
    else if (ch === '\t') out += '\\t'
    else if (ch === '\b') out += '\\b'
    else if (ch === '\f') out += '\\f'
    else if (code < 0x20) out += `\\u${code.toString(16).padStart(4, '0')}`
    else if (edition === 'Desktop' && (ch === "'" || ch === '<' || ch === '>' || ch === '&')) out += `\\u${code.toString(16).padStart(4, '0')}`
    else out += ch
  }
  return `${out}"`
}

/** 2023-11-14T22:13:20.1234567+00:00 — DateTime (Kind Local) on a host in UTC, as PowerShell 7 writes it. */
function isoLocal(ms: number): string {
  const d = new Date(ms)
  const frac = String(d.getUTCMilliseconds()).padStart(3, '0') + '0000'
  return `${d.toISOString().slice(0, 19)}.${frac}+00:00`
}
