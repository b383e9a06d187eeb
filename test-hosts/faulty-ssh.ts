/**
 * A fault hook at the host-command level, for tests that walk a flow's steps: wraps an SshConnection so that every
 * command the adapter sends (exec, streamed exec, duplex exec, unix-socket forward) is counted, and the N-th either
 * fails without running (exit 1 / a thrown error) or completes and then aborts the flow's AbortController. No product
 * hook is involved: the adapter sees an ordinary connection whose host misbehaves. Test support only.
 */
import type { Duplex } from 'node:stream'
import type { DuplexExec, ExecOptions, ExecResult, ExecStream, SshConnection } from '../adapters/ssh/ssh-connection'
import type { ShellFragment } from '../adapters/ssh/shell-quote'

export type Fault = { readonly kind: 'none' } | { readonly kind: 'fail'; readonly at: number } | { readonly kind: 'cancel'; readonly at: number; readonly controller: AbortController }

export interface CommandLog {
  /** Commands seen since the last reset, numbered from 1. */
  readonly count: number
  /** The first 160 characters of each command, for messages. */
  readonly commands: readonly string[]
  /** Starts a new run: the counter goes back to 0 and `fault` applies to it. */
  reset(fault: Fault): void
}

const injected = (n: number, what: string) => `lifeboat test: host command ${n} (${what.slice(0, 80)}) failed on purpose`

export function faultyConnection(conn: SshConnection): { readonly conn: SshConnection; readonly log: CommandLog } {
  let fault: Fault = { kind: 'none' }
  const commands: string[] = []
  /** The number of this command, and whether it must fail instead of running. */
  const next = (text: string): { n: number; fail: boolean } => {
    if (process.env.LIFEBOAT_WALK_TRACE === '1') console.log(`${new Date().toISOString()} #${commands.length + 1} ${text.slice(0, 140)}`)
    commands.push(text.slice(0, 160))
    const n = commands.length
    return { n, fail: fault.kind === 'fail' && fault.at === n }
  }
  const after = (n: number) => {
    if (fault.kind === 'cancel' && fault.at === n) fault.controller.abort()
  }
  const overrides = {
    exec: async (command: ShellFragment, options: ExecOptions = {}): Promise<ExecResult> => {
      const { n, fail } = next(command.text)
      if (fail) return { code: 1, signal: null, stdout: '', stderr: injected(n, command.text) }
      try {
        return await conn.exec(command, options)
      } finally {
        after(n)
      }
    },
    execStream: (command: ShellFragment, options: { signal?: AbortSignal; stdin?: string | Buffer } = {}): ExecStream => {
      const { n, fail } = next(command.text)
      if (fail) {
        const error = new Error(injected(n, command.text))
        const done = Promise.reject(error)
        done.catch(() => undefined)
        const stdout: AsyncIterable<Buffer> = { [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(error) }) }
        return { stdout, done }
      }
      const stream = conn.execStream(command, options)
      after(n)
      return stream
    },
    execDuplex: async (command: ShellFragment, signal?: AbortSignal): Promise<DuplexExec> => {
      const { n, fail } = next(command.text)
      if (fail) throw new Error(injected(n, command.text))
      try {
        return await conn.execDuplex(command, signal)
      } finally {
        after(n)
      }
    },
    openUnixSocket: async (socketPath: string, signal?: AbortSignal): Promise<Duplex> => {
      const { n, fail } = next(`unix socket ${socketPath}`)
      if (fail) throw new Error(injected(n, `unix socket ${socketPath}`))
      try {
        return await conn.openUnixSocket(socketPath, signal)
      } finally {
        after(n)
      }
    },
  }
  const wrapped = new Proxy(conn, {
    get(target, prop) {
      if (typeof prop === 'string' && Object.hasOwn(overrides, prop)) return overrides[prop as keyof typeof overrides]
      const value: unknown = Reflect.get(target, prop, target)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  })
  return {
    conn: wrapped,
    log: {
      get count() {
        return commands.length
      },
      commands,
      reset(f) {
        fault = f
        commands.length = 0
      },
    },
  }
}
