import { AdapterError, type GuestFilesCapability } from '../host-adapter'
import type { RootShell } from '../ssh/root-shell'
import { Virsh } from './virsh'

/** Raw bytes per guest-file-write: its JSON (base64) must stay under Linux's 128 KiB limit for one argument. */
export const AGENT_WRITE_BYTES = 64 * 1024
const MAX_FILE_BYTES = 4 * 1024 ** 3

interface AgentReply {
  readonly return?: unknown
  readonly error?: { readonly class?: string; readonly desc?: string }
}

/** Parses virsh qemu-agent-command's answer: one JSON object, bounded, or a clear BAD_RESPONSE. */
export function parseAgentReply(text: string): AgentReply {
  const trimmed = text.trim()
  if (trimmed.length > 1024 * 1024) throw new AdapterError('BAD_RESPONSE', 'The guest agent sent an oversized answer.')
  let parsed: unknown
  try {
    parsed = JSON.parse(trimmed)
  } catch {
    throw new AdapterError('BAD_RESPONSE', `The guest agent sent something that is not JSON: ${trimmed.slice(0, 200)}`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new AdapterError('BAD_RESPONSE', 'The guest agent sent an unexpected answer.')
  return parsed
}

/** One guest-agent command through libvirt; agent errors (file exists, permission) come back as COMMAND_FAILED. */
async function agent(virsh: Virsh, dom: string, execute: string, args: Record<string, unknown>, signal: AbortSignal): Promise<unknown> {
  const r = await virsh.exec(['qemu-agent-command', dom, JSON.stringify({ execute, arguments: args }), '--timeout', 30], { signal, timeoutMs: 60_000, maxOutputBytes: 2 * 1024 * 1024 })
  if (r.code !== 0) {
    const why = r.stderr.trim().replace(/^error:\s*/gm, '').slice(0, 300)
    if (/not responding|not connected|agent is not|Guest agent is not/i.test(why)) {
      throw new AdapterError('NOT_SUPPORTED', `The guest agent of ${dom} does not answer. Install and start qemu-guest-agent in the VM to put files into it, or restore to a folder instead.`, { reason: 'no-agent' })
    }
    throw new AdapterError('COMMAND_FAILED', `The guest agent refused ${execute}: ${why || 'no reason given'}`, { reason: 'agent-error' })
  }
  const reply = parseAgentReply(r.stdout)
  if (reply.error !== undefined) throw new AdapterError('COMMAND_FAILED', `The guest agent refused ${execute}: ${(reply.error.desc ?? reply.error.class ?? 'error').slice(0, 300)}`, { reason: 'agent-error' })
  return reply.return
}

/**
 * Files into a running libvirt guest through its QEMU guest agent (guest-file-open/write/close), carried by `virsh
 * qemu-agent-command` over the SSH connection: no share, network path or agent of Lifeboat's in the guest. An existing
 * file is never replaced unless asked; a copy that fails half-way removes its partial file through guest-exec where the
 * agent allows it, and otherwise says where it is.
 */
export function libvirtGuestFiles(shell: () => Promise<RootShell>): GuestFilesCapability {
  return {
    async copyIn(vmId, file, signal) {
      if (!/^[A-Za-z]:\\/.test(file.guestPath) && !file.guestPath.startsWith('/')) throw new AdapterError('BAD_RESPONSE', `Give the guest path as an absolute path (/… or C:\\…), not "${file.guestPath.slice(0, 200)}".`)
      if (file.guestPath.length > 4096 || file.guestPath.includes('\0')) throw new AdapterError('BAD_RESPONSE', 'The guest path is too long or holds a NUL character.')
      if (file.size > MAX_FILE_BYTES) throw new AdapterError('NOT_SUPPORTED', 'Files over 4 GiB are restored to a folder, not through the guest agent.')
      const virsh = new Virsh(await shell())
      const state = await virsh.domstate(vmId, signal)
      if (state !== 'running') throw new AdapterError('COMMAND_FAILED', `The VM is ${state || 'not running'}; a file can be put into a running guest only.`, { reason: 'invalid-state' })
      if (!(await virsh.agentAnswers(vmId, signal))) {
        throw new AdapterError('NOT_SUPPORTED', 'The guest agent of this VM does not answer. Install and start qemu-guest-agent in the VM to put files into it, or restore to a folder instead.', { reason: 'no-agent' })
      }
      if (!file.overwrite) {
        const existing = await agent(virsh, vmId, 'guest-file-open', { path: file.guestPath, mode: 'r' }, signal).catch(() => undefined)
        if (typeof existing === 'number') {
          await agent(virsh, vmId, 'guest-file-close', { handle: existing }, signal).catch(() => undefined)
          throw new AdapterError('COMMAND_FAILED', `${file.guestPath} already exists in the guest. Choose another name, or allow replacing it.`, { reason: 'exists' })
        }
      }
      const handle = await agent(virsh, vmId, 'guest-file-open', { path: file.guestPath, mode: 'wb' }, signal)
      if (typeof handle !== 'number' || !Number.isSafeInteger(handle)) throw new AdapterError('BAD_RESPONSE', 'The guest agent did not return a file handle.')
      let written = 0
      let closed = false
      try {
        let pending: Buffer[] = []
        let pendingBytes = 0
        const flush = async (upTo: number) => {
          while (pendingBytes >= upTo && pendingBytes > 0) {
            const all = Buffer.concat(pending)
            const piece = all.subarray(0, AGENT_WRITE_BYTES)
            const rest = all.subarray(piece.length)
            pending = rest.length > 0 ? [rest] : []
            pendingBytes = rest.length
            const result = await agent(virsh, vmId, 'guest-file-write', { handle, 'buf-b64': piece.toString('base64') }, signal)
            const count = typeof result === 'object' && result !== null && 'count' in result ? (result).count : undefined
            if (count !== piece.length) throw new AdapterError('BAD_RESPONSE', `The guest agent wrote ${String(count)} of ${piece.length} bytes.`)
            written += piece.length
          }
        }
        for await (const chunk of file.data) {
          if (signal.aborted) throw new AdapterError('CANCELLED', 'The operation was cancelled.')
          pending.push(chunk)
          pendingBytes += chunk.length
          if (written + pendingBytes > file.size) throw new AdapterError('BAD_RESPONSE', `The source gave more than the ${file.size} bytes announced.`)
          await flush(AGENT_WRITE_BYTES)
        }
        await flush(1)
        if (written !== file.size) throw new AdapterError('BAD_RESPONSE', `Copied ${written} of ${file.size} bytes.`)
        await agent(virsh, vmId, 'guest-file-flush', { handle }, signal)
        closed = true
        await agent(virsh, vmId, 'guest-file-close', { handle }, signal)
      } catch (err) {
        // Never leave a half-written file looking like the real one.
        const quiet = AbortSignal.timeout(60_000)
        if (!closed) await agent(virsh, vmId, 'guest-file-close', { handle }, quiet).catch(() => undefined)
        const removed = await removeInGuest(virsh, vmId, file.guestPath, quiet)
        if (!removed && err instanceof AdapterError) {
          throw new AdapterError(err.code, `${err.message} A partial file (${written} bytes) may be left at ${file.guestPath} in the guest: the agent does not allow removing it.`, { ...err.params, leftBehind: file.guestPath })
        }
        throw err
      }
    },
  }
}

/** Removes a file in the guest with guest-exec (rm / del); false when the agent does not allow running commands. */
async function removeInGuest(virsh: Virsh, dom: string, guestPath: string, signal: AbortSignal): Promise<boolean> {
  const windows = /^[A-Za-z]:\\/.test(guestPath)
  const args = windows ? { path: 'cmd.exe', arg: ['/c', 'del', '/f', '/q', guestPath], 'capture-output': false } : { path: '/bin/rm', arg: ['-f', '--', guestPath], 'capture-output': false }
  try {
    const started = await agent(virsh, dom, 'guest-exec', args, signal)
    const pid = typeof started === 'object' && started !== null && 'pid' in started ? (started).pid : undefined
    if (typeof pid !== 'number') return false
    for (let i = 0; i < 20; i++) {
      const status = await agent(virsh, dom, 'guest-exec-status', { pid }, signal)
      if (typeof status === 'object' && status !== null && 'exited' in status && (status).exited === true) {
        return 'exitcode' in status && (status as { exitcode: unknown }).exitcode === 0
      }
      await new Promise((r) => setTimeout(r, 250))
    }
    return false
  } catch {
    return false
  }
}
