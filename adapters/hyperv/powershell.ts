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

export type PowerShellExe = 'powershell.exe' | 'pwsh'

/** Marks the start of the script's own output, or of the error record when it failed. */
export const OK_MARKER = 'LIFEBOAT-OK'
export const ERROR_MARKER = 'LIFEBOAT-ERROR'

/**
 * The fixed bootstrap every call runs. It reads the real script from the first line of stdin (base64 of UTF-8, so neither the console
 * code page nor cmd.exe's 8191-character command-line limit can touch it), runs it with ErrorActionPreference Stop,
 * switches the output to UTF-8 without BOM, and on failure prints the error record (FullyQualifiedErrorId, category,
 * message) as JSON after a marker line instead of the console's formatted or CLIXML error text. The rest of stdin stays
 * the script's (the job lock blocks on it).
 */
const BOOTSTRAP = [
  "$ErrorActionPreference = 'Stop'",
  "$ProgressPreference = 'SilentlyContinue'",
  "$WarningPreference = 'SilentlyContinue'",
  '[Console]::OutputEncoding = [System.Text.UTF8Encoding]::new($false)',
  'try {',
  '  $lbScript = [System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String([Console]::In.ReadLine()))',
  '  $lbResult = & ([scriptblock]::Create($lbScript))',
  `  '${OK_MARKER}'`,
  '  $lbResult',
  '} catch {',
  '  $lbError = $_',
  `  '${ERROR_MARKER}'`,
  '  ConvertTo-Json -Compress -Depth 3 -InputObject ([ordered]@{ message = [string]$lbError.Exception.Message; id = [string]$lbError.FullyQualifiedErrorId; category = $lbError.CategoryInfo.Category.ToString(); reason = [string]$lbError.CategoryInfo.Reason; target = [string]$lbError.CategoryInfo.TargetName; activity = [string]$lbError.CategoryInfo.Activity; exception = $lbError.Exception.GetType().FullName })',
  '  exit 1',
  '}',
].join('\n')

export function bootstrapScript(): string {
  return BOOTSTRAP
}

/**
 * The command line for Windows OpenSSH: `-EncodedCommand` carries the bootstrap as base64 of UTF-16LE, so it arrives
 * intact whether the server's default shell is cmd.exe, Windows PowerShell or pwsh (base64 has no characters any of
 * them interprets). The same line is sent for every call; the script travels on stdin (see scriptStdin).
 */
export function commandLine(executable: PowerShellExe = 'powershell.exe'): ShellFragment {
  return raw(`${executable} -NoLogo -NoProfile -NonInteractive -EncodedCommand ${Buffer.from(BOOTSTRAP, 'utf16le').toString('base64')}`)
}

/** What goes to the bootstrap's stdin: the script, UTF-8, base64 (plain ASCII, immune to console code pages). */
export function scriptStdin(script: PsRaw): string {
  return `${Buffer.from(script.text, 'utf8').toString('base64')}\n`
}

/** ConvertTo-Json prints a lone object for a one-element pipeline and nothing for an empty one: normalise to an array. */
export function jsonArray(text: string): unknown[] {
  const trimmed = text.trim()
  if (trimmed === '') return []
  const value: unknown = JSON.parse(trimmed)
  if (value === null) return []
  return Array.isArray(value) ? (value as unknown[]) : [value]
}

export type ScriptOutput = { readonly ok: true; readonly output: string } | { readonly ok: false; readonly error: string } | { readonly ok: undefined }

/**
 * Finds the bootstrap's marker in what the host printed (which may start with anything: a banner, a stray line) and
 * returns what follows it. `ok: undefined` when there is no marker at all (PowerShell did not run the bootstrap).
 */
export function splitOutput(stdout: string): ScriptOutput {
  const lines = stdout.replace(/^\uFEFF/, '').split(/\r?\n/)
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]?.trim()
    if (line === OK_MARKER) return { ok: true, output: lines.slice(i + 1).join('\n').trim() }
    if (line === ERROR_MARKER) return { ok: false, error: lines.slice(i + 1).join('\n').trim() }
  }
  return { ok: undefined }
}

/** Windows PowerShell writes errors to a redirected stderr as CLIXML; turns that (or plain text) into readable text. */
export function readableStderr(stderr: string): string {
  if (!stderr.includes('#< CLIXML')) return stderr.trim()
  const parts = [...stderr.matchAll(/<S S="Error">([^<]*)<\/S>/g)].map((m) => m[1] ?? '')
  return parts
    .join('')
    .replace(/_x000D_/g, '')
    .replace(/_x000A_/g, '\n')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')
    .trim()
}
