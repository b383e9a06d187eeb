/**
 * qemu-guest-agent commands through libvirt (`virsh qemu-agent-command`), as a backup tool would use them.
 */
import { CommandError, sleep } from './run'
import { virsh } from './virsh'

export interface GuestExecResult {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

/** Sends one agent command and returns its `return` member. `timeoutSec` is the agent's reply timeout. */
export async function agentCommand<T = unknown>(domain: string, execute: string, args?: Record<string, unknown>, timeoutSec = 10): Promise<T> {
  const request = JSON.stringify(args === undefined ? { execute } : { execute, arguments: args })
  const out = await virsh(['qemu-agent-command', domain, request, '--timeout', String(timeoutSec)], (timeoutSec + 20) * 1000)
  const reply = JSON.parse(out) as { return?: T }
  return reply.return as T
}

/** Polls guest-ping until the agent answers; returns how long that took. */
export async function waitForAgentReady(domain: string, timeoutMs: number, explain: () => Promise<string>): Promise<number> {
  const started = Date.now()
  let last: unknown
  while (Date.now() - started < timeoutMs) {
    try {
      await agentCommand(domain, 'guest-ping', undefined, 2)
      return Date.now() - started
    } catch (err) {
      last = err
      // A domain that has shut off or crashed will never answer: fail now with its console.
      const state = (await virsh(['domstate', domain]).catch(() => '')).trim()
      if (state !== '' && state !== 'running') throw new Error(`${domain} is ${state}, not running.\n${await explain()}`, { cause: err })
    }
    await sleep(250)
  }
  const reason = last instanceof CommandError ? last.stderr.trim() : String(last)
  throw new Error(`The guest agent of ${domain} did not answer within ${timeoutMs} ms (last error: ${reason}).\n${await explain()}`)
}

/** Runs a program in the guest (guest-exec) and waits for it. */
export async function guestExec(domain: string, argv: readonly string[], timeoutMs = 30_000): Promise<GuestExecResult> {
  const [file, ...args] = argv
  if (file === undefined) throw new Error('guestExec needs a program')
  const { pid } = await agentCommand<{ pid: number }>(domain, 'guest-exec', { path: file, arg: args, 'capture-output': true })
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const status = await agentCommand<{ exited: boolean; exitcode?: number; 'out-data'?: string; 'err-data'?: string }>(domain, 'guest-exec-status', { pid })
    if (status.exited) {
      return {
        exitCode: status.exitcode ?? -1,
        stdout: Buffer.from(status['out-data'] ?? '', 'base64').toString(),
        stderr: Buffer.from(status['err-data'] ?? '', 'base64').toString(),
      }
    }
    await sleep(100)
  }
  throw new Error(`${argv.join(' ')} did not finish in the guest within ${timeoutMs} ms`)
}
