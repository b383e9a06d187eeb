import { AdapterError } from '../host-adapter'
import type { RootShell } from '../ssh/root-shell'
import { commandFailed } from '../ssh/root-shell'
import { sh } from '../ssh/shell-quote'

export const LIBVIRT_URI = 'qemu:///system'

export interface VirshOptions {
  readonly signal?: AbortSignal
  readonly stdin?: string
  readonly timeoutMs?: number
  readonly maxOutputBytes?: number
}

/**
 * `virsh` on a host, as root, against the system daemon, with the C locale (so messages and states are the English
 * words this code matches). Every argument is quoted; output is bounded; a missing domain becomes NOT_FOUND.
 */
export class Virsh {
  constructor(readonly shell: RootShell) {}

  get label(): string {
    return this.shell.conn.label
  }

  async exec(args: readonly (string | number)[], options: VirshOptions = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const result = await this.shell.exec(sh`LC_ALL=C virsh -q -c ${LIBVIRT_URI} ${args.map(String)}`, {
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.stdin !== undefined ? { stdin: options.stdin } : {}),
      timeoutMs: options.timeoutMs ?? 120_000,
      maxOutputBytes: options.maxOutputBytes ?? 8 * 1024 * 1024,
    })
    return { code: result.code, stdout: result.stdout, stderr: result.stderr }
  }

  async run(args: readonly (string | number)[], options: VirshOptions = {}): Promise<string> {
    const result = await this.exec(args, options)
    if (result.code === 0) return result.stdout
    const err = result.stderr
    if (/failed to get domain|Domain not found|no domain with matching/i.test(err)) {
      throw new AdapterError('NOT_FOUND', `${this.label} has no such libvirt domain (${String(args[1] ?? '').slice(0, 100)}).`, { vm: String(args[1] ?? '') })
    }
    if (/command not found|virsh: not found/.test(err)) throw new AdapterError('NOT_SUPPORTED', `${this.label} has no virsh (libvirt client) installed.`)
    throw commandFailed({ code: result.code, signal: null, stdout: result.stdout, stderr: err }, this.label, `virsh ${String(args[0] ?? '')}`)
  }

  async domstate(dom: string, signal?: AbortSignal): Promise<string> {
    const out = await this.run(['domstate', dom], signal ? { signal } : {})
    return out.split('\n')[0]?.trim().slice(0, 40) ?? ''
  }

  async agentAnswers(dom: string, signal?: AbortSignal): Promise<boolean> {
    const r = await this.exec(['qemu-agent-command', dom, '{"execute":"guest-ping"}', '--timeout', 5], { ...(signal ? { signal } : {}), timeoutMs: 30_000, maxOutputBytes: 64 * 1024 })
    return r.code === 0
  }

  /** Waits until domstate equals `wanted`; returns false on timeout. */
  async waitForState(dom: string, wanted: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const state = await this.domstate(dom, signal)
      if (wanted.includes(state)) return state
      if (Date.now() >= deadline) return undefined
      await sleep(1000, signal)
    }
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AdapterError('CANCELLED', 'The operation was cancelled.'))
      return
    }
    const onAbort = () => {
      clearTimeout(t)
      reject(new AdapterError('CANCELLED', 'The operation was cancelled.'))
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** libvirt domain states that mean QEMU is running (the guest may be paused). */
export const ACTIVE_STATES = ['running', 'idle', 'paused', 'in shutdown', 'pmsuspended', 'blocked']
