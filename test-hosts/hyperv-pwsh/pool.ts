/**
 * The test host's warm pwsh pool: the broker between sshd's exec sessions (lib/relay.py, exec'd by winshell.sh in
 * place of pwsh) and pwsh processes started ahead of time (lib/PwshWorker.cs). Each exec still runs pwsh's own entry
 * point on the session's stdin/stdout/stderr with the command line the adapter sent; what the pool saves is starting
 * a process per exec (about 0.6 CPU-seconds on an idle machine, seconds under load). Every exec passes here, so the
 * pool also counts them and can fail or watch exec N, as the ssh2 simulator's exec faults do. Test peer only.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { chmod } from 'node:fs/promises'
import { createServer, type Server, type Socket } from 'node:net'
import { createInterface } from 'node:readline'

export interface PwshPoolOptions {
  readonly socketPath: string
  /**
   * How to start one pwsh for a variant ('' or 'nohyperv') as a session's pwsh is started (host.ts: winshell.sh in
   * the host's namespaces, with that variant's module folders).
   */
  readonly command: (variant: string) => { readonly file: string; readonly args: readonly string[]; readonly env: NodeJS.ProcessEnv; readonly cwd: string }
  /** Workers at most at once, all variants together; an exec beyond waits for one (default 8). */
  readonly max?: number
  /** What each worker runs before its first session (module import, JSON: the JIT a first exec would pay). */
  readonly warmup?: string
}

/** Exec faults, as the ssh2 simulator's: fail exec N before it runs, or be told when exec N has ended. */
export interface PoolFaults {
  /** Execs so far, counted from 1 as they arrive (a powershell.exe started from inside a session counts too). */
  execs: number
  /** This exec fails before its command runs, as a powershell.exe that cannot start does; one-shot. */
  failExec: number | undefined
  /** Told after exec n's command has run, before its exit status goes out. */
  afterExec: ((n: number) => void) | undefined
}

export interface PwshPool {
  readonly socketPath: string
  readonly faults: PoolFaults
  /** Execs whose session has not ended yet. */
  running(): number
  /** Starts a worker for this variant ahead of its first exec (a test that switches the host's modules). */
  prepare(variant: string): void
  /** Workers started, sessions served, and why workers retired (for the pool's own tests). */
  readonly stats: { started: number; sessions: number; retired: string[] }
  close(): Promise<void>
}

interface Answer {
  readonly exit: number
}

interface Worker {
  readonly child: ChildProcess
  readonly variant: string
  busy: ((answer: Answer) => void) | undefined
  ready: boolean
}

interface Waiter {
  readonly variant: string
  readonly resolve: (w: Worker) => void
  readonly reject: (e: Error) => void
}

const DEFAULT_WARMUP = "Import-Module CimCmdlets; if (Get-Module -ListAvailable Hyper-V) { Import-Module Hyper-V }; $null = ConvertTo-Json -Compress -Depth 3 -InputObject ([ordered]@{ a = [guid]::Empty; b = Get-Date }); $null = @(1) | Select-Object -First 1 | Where-Object { $_ } | ForEach-Object { $_ }"

export async function startPwshPool(options: PwshPoolOptions): Promise<PwshPool> {
  const max = options.max ?? 8
  const workers = new Set<Worker>()
  const waiting: Waiter[] = []
  const faults: PoolFaults = { execs: 0, failExec: undefined, afterExec: undefined }
  const stats = { started: 0, sessions: 0, retired: [] as string[] }
  let running = 0
  let closed = false
  // A worker that fails before it is ready (a pwsh or .NET whose internals the worker cannot reset) breaks the pool:
  // every exec then fails with the reason, instead of the pool starting worker after worker.
  let broken: string | undefined

  function spawnWorker(variant: string): Worker {
    stats.started++
    const { file, args, env, cwd } = options.command(variant)
    const child = spawn(file, args, {
      cwd,
      env: { ...env, LB_HVPWSH_WORKER: '1', LB_HVPWSH_WARMUP: options.warmup ?? DEFAULT_WARMUP },
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    })
    const worker: Worker = { child, variant, busy: undefined, ready: false }
    workers.add(worker)
    const control = child.stdio[3] as Socket
    control.on('error', () => undefined)
    createInterface({ input: control }).on('line', (line) => {
      let message: { ready?: boolean; exit?: number; retire?: boolean; reason?: string; error?: string }
      try {
        message = JSON.parse(line) as typeof message
      } catch {
        message = { error: `unreadable line from a pwsh worker: ${line.slice(0, 200)}` }
      }
      if (message.error !== undefined) {
        stats.retired.push(message.error)
        if (!worker.ready) {
          broken = message.error
          for (const w of waiting.splice(0)) w.reject(new Error(message.error))
        }
        return
      }
      if (message.ready === true) {
        worker.ready = true
        release(worker)
        return
      }
      if (typeof message.exit === 'number') {
        const done = worker.busy
        worker.busy = undefined
        stats.sessions++
        if (message.retire === true) {
          stats.retired.push(message.reason ?? 'served its share of sessions')
          workers.delete(worker)
        }
        done?.({ exit: message.exit })
        if (message.retire === true) topUp()
        else release(worker)
      }
    })
    child.on('exit', (code, signal) => {
      workers.delete(worker)
      if (!worker.ready && !closed && broken === undefined) {
        broken = `a pwsh worker ended before it was ready (exit ${code ?? signal ?? '?'})`
        for (const w of waiting.splice(0)) w.reject(new Error(broken))
      }
      const done = worker.busy
      worker.busy = undefined
      // A worker that dies in a session is a pwsh killed or crashed: the session ends with its status.
      done?.({ exit: code ?? (signal !== null ? 137 : 255) })
      topUp()
    })
    return worker
  }

  // A worker handed to an exec is claimed at once (busy), so no second exec can take it before the request is sent.
  function claim(worker: Worker): Worker {
    worker.busy = () => undefined
    return worker
  }

  function release(worker: Worker): void {
    if (closed || !workers.has(worker)) return
    const at = waiting.findIndex((w) => w.variant === worker.variant)
    if (at < 0) return
    const [next] = waiting.splice(at, 1)
    next?.resolve(claim(worker))
  }

  // For each variant in use, one worker more than the execs waiting for it is kept idle or starting, so a second exec
  // at once (a job lock held while the backup's other calls run) does not wait for a pwsh to start.
  function topUp(variant = ''): void {
    if (closed || broken !== undefined) return
    const variants = new Set([variant, ...waiting.map((w) => w.variant)])
    for (const v of variants) {
      const spare = [...workers].filter((w) => w.variant === v && (!w.ready || w.busy === undefined)).length
      const want = waiting.filter((w) => w.variant === v).length + 1
      for (let n = spare; n < want && workers.size < max; n++) spawnWorker(v)
    }
  }

  function acquire(variant: string): Promise<Worker> {
    if (broken !== undefined) return Promise.reject(new Error(broken))
    const free = [...workers].find((w) => w.variant === variant && w.ready && w.busy === undefined)
    const got = free !== undefined ? Promise.resolve(claim(free)) : new Promise<Worker>((resolve, reject) => waiting.push({ variant, resolve, reject }))
    topUp(variant)
    return got
  }

  async function serve(socket: Socket): Promise<void> {
    const lines = createInterface({ input: socket })
    const first = await new Promise<string | undefined>((resolve) => {
      lines.once('line', resolve)
      lines.once('close', () => resolve(undefined))
    })
    lines.close()
    if (first === undefined) return
    let request: { pid: number; args: string[]; variant?: string }
    try {
      request = JSON.parse(first) as typeof request
    } catch {
      socket.end('255\nLifeboat Hyper-V test host: unreadable request from the exec relay\r\n')
      return
    }
    const n = ++faults.execs
    if (faults.failExec === n) {
      faults.failExec = undefined
      // Windows' answer when powershell.exe cannot start, as the ssh2 simulator gives it.
      socket.end("1\nProgram 'powershell.exe' failed to run: Insufficient system resources exist to complete the requested service\r\n")
      return
    }
    running++
    try {
      let worker: Worker
      try {
        worker = await acquire(request.variant ?? '')
      } catch (e) {
        socket.end(`255\nLifeboat Hyper-V test host: no pwsh worker: ${e instanceof Error ? e.message : String(e)}\r\n`)
        return
      }
      const answer = await new Promise<Answer>((resolve) => {
        worker.busy = resolve
        ;(worker.child.stdio[3] as Socket).write(`${JSON.stringify({ pid: request.pid, args: request.args })}\n`)
      })
      // Before the client sees the exit, as the ssh2 simulator calls it (a cancel "right after exec N" lands there).
      faults.afterExec?.(n)
      socket.end(`${answer.exit}\n`)
    } finally {
      running--
    }
  }

  const server: Server = createServer((socket) => {
    socket.on('error', () => undefined)
    void serve(socket)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.socketPath, () => resolve())
  })
  // Sessions of the password user (Administrator, uid 0 here) and of root alike.
  await chmod(options.socketPath, 0o666)
  spawnWorker('')

  async function close(): Promise<void> {
    closed = true
    await new Promise<void>((resolve) => server.close(() => resolve()))
    for (const w of waiting.splice(0)) w.reject(new Error('the test host is stopping'))
    const exits = [...workers].map(
      (w) =>
        new Promise<void>((resolve) => {
          if (w.child.exitCode !== null || w.child.signalCode !== null) resolve()
          else w.child.once('exit', () => resolve())
          w.child.kill('SIGKILL')
        }),
    )
    await Promise.all(exits)
  }

  try {
    await new Promise<void>((resolve, reject) => {
      const check = setInterval(() => {
        if (broken !== undefined) reject(new Error(`The Hyper-V test host's pwsh pool could not start a worker: ${broken}`))
        else if ([...workers].some((w) => w.ready)) resolve()
        else return
        clearInterval(check)
      }, 20)
    })
  } catch (e) {
    await close()
    throw e
  }

  return { socketPath: options.socketPath, faults, stats, running: () => running, prepare: (variant) => topUp(variant), close }
}
