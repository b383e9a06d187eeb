import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { createInterface } from 'node:readline'

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

/** Starts `lifeboat serve --json` (the app's engine and WebSocket bridge) on a data folder; resolves with the URL it prints. */
export async function startBridge(home: string, timeoutMs = 30_000): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [lifeboatBin, 'serve', '--json', '--home', home], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const lines = createInterface({ input: child.stdout })
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`lifeboat serve did not start within ${timeoutMs / 1000} s: ${stderr}`)), timeoutMs)
      lines.once('line', (line) => {
        clearTimeout(timer)
        try {
          resolve((JSON.parse(line) as { url: string }).url)
        } catch {
          reject(new Error(`lifeboat serve printed ${line}`))
        }
      })
      child.once('exit', (code) => reject(new Error(`lifeboat serve exited with ${code}: ${stderr}`)))
    })
    return { url, child }
  } catch (error) {
    await stopProcess(child)
    throw error
  }
}

/** SIGTERM, then SIGKILL after 10 s. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const done = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000))])
  if (!done) child.kill('SIGKILL')
}
