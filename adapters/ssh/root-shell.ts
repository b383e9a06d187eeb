import { AdapterError, type ErrorParams } from '../host-adapter'
import type { DuplexExec, ExecOptions, ExecResult, ExecStream, SshConnection } from './ssh-connection'
import { sh, type ShellFragment } from './shell-quote'

export type Privilege = 'root' | 'sudo'

const detected = new WeakMap<SshConnection, Promise<Privilege>>()

/**
 * Runs commands as root on a host whatever the login: as they are for a root login, through `sudo -n` for anyone
 * else. `-n` never prompts: a sudo that wants a password fails at once with PERMISSION_DENIED and a message saying
 * what to configure, instead of hanging a backup on an invisible prompt.
 */
export class RootShell {
  private constructor(
    readonly conn: SshConnection,
    readonly privilege: Privilege,
  ) {}

  static async for(conn: SshConnection, signal?: AbortSignal): Promise<RootShell> {
    let p = detected.get(conn)
    if (p === undefined) {
      p = conn
        .run(sh`id -u`, { ...(signal ? { signal } : {}), timeoutMs: 20_000, maxOutputBytes: 1024 })
        .then((out): Privilege => (out.trim() === '0' ? 'root' : 'sudo'))
      p.catch(() => detected.delete(conn))
      detected.set(conn, p)
    }
    return new RootShell(conn, await p)
  }

  /** What a caller already learnt of the login (`id -u` asked along with other things): no round trip of its own. */
  static remember(conn: SshConnection, uid: string): void {
    if (!/^\d+$/.test(uid) || detected.has(conn)) return
    detected.set(conn, Promise.resolve(uid === '0' ? 'root' : 'sudo'))
  }

  /** The command as root: `sudo -n -- sh -c '…'` for a non-root login. */
  wrap(command: ShellFragment): ShellFragment {
    return this.privilege === 'root' ? command : sh`sudo -n -- sh -c ${command.text}`
  }

  async exec(command: ShellFragment, options: ExecOptions = {}): Promise<ExecResult> {
    const result = await this.conn.exec(this.wrap(command), options)
    if (this.privilege === 'sudo' && result.code !== 0) throwIfSudoRefused(result.stderr, this.conn.label)
    return result
  }

  /** Like exec, but a non-zero exit becomes COMMAND_FAILED with the start of stderr. */
  async run(command: ShellFragment, options: ExecOptions & { what?: string; params?: ErrorParams } = {}): Promise<string> {
    const result = await this.exec(command, options)
    if (result.code !== 0) throw commandFailed(result, this.conn.label, options.what, options.params)
    return result.stdout
  }

  execStream(command: ShellFragment, options: { signal?: AbortSignal; stdin?: string | Buffer } = {}): ExecStream {
    return this.conn.execStream(this.wrap(command), options)
  }

  execDuplex(command: ShellFragment, signal?: AbortSignal): Promise<DuplexExec> {
    return this.conn.execDuplex(this.wrap(command), signal)
  }
}

export function commandFailed(result: ExecResult, label: string, what?: string, params: ErrorParams = {}): AdapterError {
  const detail = (result.stderr.trim() || result.stdout.trim()).slice(0, 500)
  return new AdapterError(
    'COMMAND_FAILED',
    `${what ?? 'A command'} on ${label} failed (exit ${result.code ?? result.signal ?? '?'}): ${detail || 'no output'}`,
    { ...params, exitCode: result.code, stderr: detail },
  )
}

/** Turns sudo's own refusals into one clear PERMISSION_DENIED. */
export function throwIfSudoRefused(stderr: string, label: string): void {
  if (/(^|\n)(sh: (\d+: )?)?sudo: (command )?not found|sudo: command not found/.test(stderr)) {
    throw new AdapterError('PERMISSION_DENIED', `${label}: this login is not root and sudo is not installed. Connect as root or install sudo.`, { reason: 'no-sudo' })
  }
  // sudo may warn first (e.g. "unable to resolve host"): the refusal can be on any of its lines.
  const lines = stderr.split('\n').filter((l) => /^sudo: /.test(l))
  const line = lines.find((l) => /password is required|terminal is required|askpass|not in the sudoers|not allowed to execute|may not run sudo/i.test(l))
  if (line === undefined) return
  if (/password is required|terminal is required|askpass/i.test(line)) {
    throw new AdapterError(
      'PERMISSION_DENIED',
      `${label}: this login is not root and sudo wants a password. Lifeboat runs host commands with \`sudo -n\` (never prompting); allow them without a password (sudoers: "USER ALL=(root) NOPASSWD: ALL", or list virsh, lvs, lvcreate, lvremove, btrfs, dd, cat, stat, qemu-img, flock) or connect as root.`,
      { reason: 'sudo-password' },
    )
  }
  if (/not in the sudoers|not allowed to execute|may not run sudo/i.test(line)) {
    throw new AdapterError('PERMISSION_DENIED', `${label}: this login may not use sudo (${line.slice(6, 200)}). Lifeboat needs root for VM disks: allow sudo or connect as root.`, { reason: 'sudo-denied' })
  }
}
