import type { z } from 'zod'
import { AdapterError } from '../host-adapter'
import type { SshConnection } from '../ssh/ssh-connection'
import { clean, mapPsError, parseErrorRecord } from './errors'
import { commandLine, readableStderr, scriptStdin, splitOutput, type PowerShellExe, type PsRaw } from './powershell'
import { parseJson } from './schemas'

export interface RunOptions {
  readonly signal: AbortSignal
  /** What this call does, for messages ("Listing VMs"). */
  readonly what: string
  readonly timeoutMs?: number
  readonly maxOutputBytes?: number
}

/** Runs a script on the host and returns what it printed (after the bootstrap's marker); throws typed errors. */
export type PowerShellRunner = (script: PsRaw, options: RunOptions) => Promise<string>

/** The host's answer to one exec of the bootstrap, as SshConnection.exec reports it. */
export interface RawResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Turns the raw result of the bootstrap into the script's output or a typed error. */
export function interpret(result: RawResult, exe: PowerShellExe, what: string): string {
  const split = splitOutput(result.stdout)
  if (split.ok === true) {
    if (result.code !== 0) throw new AdapterError('BAD_RESPONSE', `${what}: PowerShell reported success but exited with ${result.code ?? 'a signal'}.`)
    return split.output
  }
  if (split.ok === false) {
    const record = parseErrorRecord(split.error)
    if (record) throw mapPsError(record, what)
    throw new AdapterError('BAD_RESPONSE', `${what} failed, and the host's error report was not readable: ${clean(split.error, 300)}`)
  }
  const detail = clean(readableStderr(result.stderr) || result.stdout, 400)
  if (result.code === 9009 || /CommandNotFoundException|is not recognized as an internal or external command/.test(result.stderr)) {
    throw new AdapterError('NOT_SUPPORTED', `${exe} is not installed on the host (${detail}).`, { reason: 'no-powershell', executable: exe })
  }
  throw new AdapterError('COMMAND_FAILED', `${what}: PowerShell did not run the script (exit ${result.code ?? '?'}): ${detail || 'no output'}`, { exitCode: result.code })
}

/** Runs scripts through the bootstrap on one SSH connection, with the given PowerShell. */
export function sshRunner(conn: (signal: AbortSignal) => Promise<SshConnection>, exe: () => PowerShellExe): PowerShellRunner {
  return async (script, options) => {
    const c = await conn(options.signal)
    const executable = exe()
    const result = await c.exec(commandLine(executable), {
      signal: options.signal,
      stdin: scriptStdin(script),
      timeoutMs: options.timeoutMs ?? 300_000,
      maxOutputBytes: options.maxOutputBytes ?? 32 * 1024 * 1024,
    })
    return interpret(result, executable, options.what)
  }
}

/** Runs a script whose output is one JSON document, parsed with `schema`. */
export async function runJson<T extends z.ZodType>(runner: PowerShellRunner, script: PsRaw, schema: T, options: RunOptions): Promise<z.infer<T>> {
  const out = await runner(script, options)
  const parsed = parseJson(out === '' ? 'null' : out, schema)
  if (!parsed.ok) throw new AdapterError('BAD_RESPONSE', `${options.what}: the host answered with JSON Lifeboat does not understand (${parsed.problem}).`)
  return parsed.value
}
