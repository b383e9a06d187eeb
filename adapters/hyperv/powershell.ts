import { raw, type ShellFragment } from '../ssh/shell-quote'

/**
 * PowerShell quoting. Every value placed in a script Lifeboat sends to a Hyper-V host goes through psQuote: a
 * single-quoted literal, in which PowerShell expands nothing and only ' needs doubling. PowerShell also treats
 * the typographic quotes ‘ ’ ‚ ‛ as single quotes, so those are doubled too.
 */
export function psQuote(value: string): string {
  if (value.includes('\0')) throw new Error('A PowerShell argument cannot contain a NUL byte.')
  return `'${value.replace(/['\u2018\u2019\u201a\u201b]/g, (q) => q + q)}'`
}

export type PsValue = string | number | boolean | PsRaw | readonly string[]

export class PsRaw {
  constructor(readonly text: string) {}
}

/** Tagged template for PowerShell scripts: interpolated values become literals, arrays become @('a','b'). */
export function ps(strings: TemplateStringsArray, ...values: PsValue[]): PsRaw {
  let out = strings[0] ?? ''
  values.forEach((value, i) => {
    if (value instanceof PsRaw) out += value.text
    else if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new Error('PowerShell numbers must be finite.')
      out += String(value)
    } else if (typeof value === 'boolean') out += value ? '$true' : '$false'
    else if (Array.isArray(value)) out += `@(${(value as readonly string[]).map(psQuote).join(',')})`
    else out += psQuote(value as string)
    out += strings[i + 1] ?? ''
  })
  return new PsRaw(out)
}

/**
 * The command line for Windows OpenSSH: `-EncodedCommand` carries the script as base64 of UTF-16LE, so it
 * arrives intact whether the server's default shell is cmd.exe, Windows PowerShell or pwsh, and no quoting
 * of the outer command line is needed (base64 has no special characters).
 */
export function encodedCommand(script: PsRaw, executable: 'powershell.exe' | 'pwsh' = 'powershell.exe'): ShellFragment {
  const prelude = "$ErrorActionPreference = 'Stop'; $ProgressPreference = 'SilentlyContinue'\n"
  const encoded = Buffer.from(prelude + script.text, 'utf16le').toString('base64')
  return raw(`${executable} -NoLogo -NoProfile -NonInteractive -EncodedCommand ${encoded}`)
}

/** ConvertTo-Json prints a lone object for a one-element pipeline and nothing for an empty one: normalise to an array. */
export function jsonArray(text: string): unknown[] {
  const trimmed = text.trim()
  if (trimmed === '') return []
  const value: unknown = JSON.parse(trimmed)
  if (value === null) return []
  return Array.isArray(value) ? value : [value]
}
