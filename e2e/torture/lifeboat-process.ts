/**
 * Runs the `lifeboat` command as a real child process, so that a SIGKILL is a real kill -9: no finally blocks, no
 * exit handlers, locks and temp files left exactly where the process was.
 *
 * The campaign runs its own bundle of the CLI, built once at start into node_modules/.cache (so the bundle's bare
 * imports still resolve to the checkout's node_modules): `bin/lifeboat.mjs` rebuilds dist/node whenever a source file
 * is newer, and with other people editing the tree a rebuild in the middle of a run would be a fault of our own making.
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildNode, nodeEntries } from '../../scripts/build.mjs'

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

export interface RunOptions {
  /** SIGKILL the process this many milliseconds after it was started (if it is still running). */
  readonly killAfterMs?: number
  /** A run that takes longer is killed and reported as timed out (a hang is a failure too). */
  readonly timeoutMs?: number
  readonly stdin?: string
  /** Called once the process is running, with its pid (the SSH fault cuts the connection from here). */
  readonly onStart?: (pid: number) => void
}

export interface RunResult {
  readonly args: readonly string[]
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  /** Killed by us on purpose (killAfterMs). */
  readonly killed: boolean
  readonly timedOut: boolean
  readonly ms: number
}

export interface LifeboatRunner extends AsyncDisposable {
  readonly home: string
  run(args: readonly string[], options?: RunOptions): Promise<RunResult>
}

const MAX_OUTPUT = 4 * 1024 * 1024

export async function buildPrivateCli(): Promise<{ entry: string; dispose: () => Promise<void> }> {
  // pid and a random part: campaigns running side by side in one process must not remove each other's bundle.
  const outdir = path.join(projectRoot, 'node_modules', '.cache', 'lifeboat-torture', `cli-${process.pid}-${randomUUID().slice(0, 8)}`)
  await buildNode({
    quiet: true,
    outdir,
    // The CLI and its worker threads, not the Electron main process.
    entries: nodeEntries.filter((e) => e.out !== 'electron-main'),
  })
  const entry = path.join(outdir, 'run.mjs')
  await writeFile(entry, "import { main } from './lifeboat.js'\nawait main()\n")
  return { entry, dispose: () => rm(outdir, { recursive: true, force: true }) }
}

/**
 * A runner on its own Lifeboat home (saved hosts, credentials, job records of this campaign only). Past `deadlineAt`
 * (epoch ms) every run is cut short as timed out, so a campaign that hangs somewhere still ends, with a report that
 * says where, instead of being killed from outside without one.
 */
export async function lifeboatRunner(home: string, env: Readonly<Record<string, string>> = {}, deadlineAt = Number.POSITIVE_INFINITY): Promise<LifeboatRunner> {
  await mkdir(home, { recursive: true })
  const cli = await sharedPrivateCli()
  return {
    home,
    run: (args, options = {}) => {
      const left = Math.max(1, deadlineAt - Date.now())
      return runOnce(cli.entry, home, env, args, { ...options, timeoutMs: Math.min(options.timeoutMs ?? 300_000, left) })
    },
    async [Symbol.asyncDispose]() {
      await cli.release()
    },
  }
}

let shared: { users: number; cli: Promise<{ entry: string; dispose: () => Promise<void> }> } | undefined

/**
 * One bundle for all campaigns that run at the same time in this process (torture.test.ts runs three side by side):
 * built by the first, removed when the last lets go. Each campaign still has its own home.
 */
async function sharedPrivateCli(): Promise<{ entry: string; release: () => Promise<void> }> {
  const mine = (shared ??= { users: 0, cli: buildPrivateCli() })
  mine.users++
  const letGo = (): boolean => {
    mine.users--
    if (mine.users > 0) return false
    if (shared === mine) shared = undefined
    return true
  }
  let cli: Awaited<typeof mine.cli>
  try {
    cli = await mine.cli
  } catch (err) {
    letGo()
    throw err
  }
  return {
    entry: cli.entry,
    release: async () => {
      if (letGo()) await cli.dispose()
    },
  }
}

function runOnce(entry: string, home: string, env: Readonly<Record<string, string>>, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const started = Date.now()
  const fullArgs = [...args, '--home', home, '--json']
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry, ...fullArgs], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, LIFEBOAT_HOME: home, ...env },
    })
    let stdout = ''
    let stderr = ''
    let killed = false
    let timedOut = false
    child.stdout.on('data', (d: Buffer) => {
      if (stdout.length < MAX_OUTPUT) stdout += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < MAX_OUTPUT) stderr += d.toString()
    })
    child.stdin.on('error', () => undefined)
    child.stdin.end(options.stdin ?? '')
    const timers: NodeJS.Timeout[] = []
    if (options.killAfterMs !== undefined)
      timers.push(
        setTimeout(() => {
          if (child.exitCode === null && child.signalCode === null) {
            killed = true
            child.kill('SIGKILL')
          }
        }, options.killAfterMs),
      )
    timers.push(
      setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) {
          timedOut = true
          child.kill('SIGKILL')
        }
      }, options.timeoutMs ?? 300_000),
    )
    child.once('spawn', () => {
      if (child.pid !== undefined) options.onStart?.(child.pid)
    })
    child.once('error', (err) => {
      for (const t of timers) clearTimeout(t)
      reject(err)
    })
    child.once('close', (code, signal) => {
      for (const t of timers) clearTimeout(t)
      resolve({ args: fullArgs, code, signal, stdout, stderr, killed, timedOut, ms: Date.now() - started })
    })
  })
}

/** The JSON document a `--json` run printed (undefined when it printed none, e.g. when it was killed). */
export function jsonOf(result: RunResult): unknown {
  const text = result.stdout.trim()
  if (text === '') return undefined
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

/** One line saying how a run ended, for failure notes. */
export function describeRun(result: RunResult): string {
  const how = result.timedOut ? 'timed out' : result.killed ? 'killed' : result.signal !== null ? `died of ${result.signal}` : `exit ${result.code ?? '?'}`
  const words = result.args.filter((a) => !a.startsWith('/') && a !== '--json' && a !== '--home').slice(0, 4).join(' ')
  const err = (result.stderr.trim().split('\n').find((l) => l.startsWith('lifeboat:')) ?? result.stderr.trim().split('\n')[0] ?? '').slice(0, 300)
  return `\`lifeboat ${words}\` ${how} after ${result.ms} ms${err !== '' ? `: ${err}` : ''}`
}
