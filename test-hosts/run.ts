/**
 * Runs a host command for a test peer and fails with everything needed to diagnose it (command, exit code, stderr),
 * because "Command failed" alone is useless when a libvirt or qemu-img call breaks in CI.
 */
import { execFile } from 'node:child_process'

export interface RunOptions {
  readonly timeoutMs?: number
  readonly input?: string
  readonly env?: NodeJS.ProcessEnv
}

export interface RunResult {
  readonly stdout: string
  readonly stderr: string
}

export class CommandError extends Error {
  constructor(
    readonly command: readonly string[],
    readonly exitCode: number | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`${command.join(' ')} failed (exit ${exitCode ?? 'signal'}): ${(stderr || stdout).trim().slice(0, 2000)}`)
    this.name = 'CommandError'
  }
}

export function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      [...args],
      { timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024, env: options.env ?? process.env, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve({ stdout, stderr })
          return
        }
        const code = typeof error.code === 'number' ? error.code : null
        reject(new CommandError([file, ...args], code, stdout, stderr))
      },
    )
    if (options.input !== undefined) child.stdin?.end(options.input)
    else child.stdin?.end()
  })
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
