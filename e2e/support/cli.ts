import { spawn } from 'node:child_process'
import path from 'node:path'

export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const root = path.resolve(import.meta.dirname, '../..')
export const lifeboatBin = path.join(root, 'bin/lifeboat.mjs')

/** Runs the `lifeboat` command as a user would (new process, no terminal), on the given data folder. */
export function runCli(home: string, args: readonly string[], stdin?: string, env?: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [lifeboatBin, ...args, '--home', home], { stdio: ['pipe', 'pipe', 'pipe'], detached: true, ...(env ? { env } : {}) })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(stdin ?? '')
  })
}
