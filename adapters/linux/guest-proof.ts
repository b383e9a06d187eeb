import { z } from 'zod'
import { throwIfAborted } from '../host-adapter'
import { sleep, type Virsh } from './virsh'
import { duration } from '../boot-proof'

/** What waiting for the guest came to: it answered after `ms`, or it did not, and why in the host's words. */
export type Answer = { readonly answered: true; readonly ms: number } | { readonly answered: false; readonly reason: string }

const ExecStarted = z.object({ return: z.object({ pid: z.number().int() }) })
const ExecStatus = z.object({
  return: z.object({ exited: z.boolean(), exitcode: z.number().int().optional(), signal: z.number().int().optional(), 'out-data': z.string().optional(), 'err-data': z.string().optional() }),
})
const POLL_MS = 1000
const OUTPUT_CHARS = 2000
/** How often the text screen is read for a firmware's last word while waiting (every Nth poll). */
const SCREEN_EVERY = 4
/**
 * What PC firmware and boot sectors print when there is nothing to start; each is a final state (SeaBIOS retries only
 * after a minute, and finds nothing then either).
 */
const NOTHING_TO_BOOT = /No bootable device|Operating system not found|Missing operating system|Non-system disk|BOOTMGR is missing|DISK BOOT FAILURE|No boot device/i

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.trim().replace(/^error:\s*/i, '').slice(0, 300) ?? ''
}

/**
 * Asks the guest agent `guest-ping` once a second until it answers, the domain stops running (a guest that powered
 * off or crashed will never answer: that is a verdict at once) or `timeoutMs` from `since` has passed.
 */
export async function waitForAgent(virsh: Virsh, dom: string, since: number, timeoutMs: number, signal: AbortSignal): Promise<Answer> {
  let last = ''
  for (let poll = 1; ; poll++) {
    throwIfAborted(signal, 'The health check')
    const ping = await virsh.exec(['qemu-agent-command', dom, '{"execute":"guest-ping"}', '--timeout', 2], { signal, timeoutMs: 30_000, maxOutputBytes: 64 * 1024 })
    if (ping.code === 0) return { answered: true, ms: Date.now() - since }
    last = firstLine(ping.stderr) || last
    const state = await virsh.exec(['domstate', dom, '--reason'], { signal, timeoutMs: 30_000, maxOutputBytes: 64 * 1024 })
    const now = firstLine(state.stdout)
    if (state.code === 0 && !/^(running|paused|blocked|idle)\b/.test(now)) {
      return { answered: false, reason: `the VM stopped after ${duration(Date.now() - since)} without its guest agent answering (libvirt: ${now})` }
    }
    const screen = poll % SCREEN_EVERY === 0 ? await textScreen(virsh, dom, signal) : ''
    if (NOTHING_TO_BOOT.test(screen)) {
      const words = screen.slice(Math.max(0, screen.search(/Booting|Boot failed/))).slice(0, 300).trim()
      return { answered: false, reason: `the disk has no bootable system (the VM's screen after ${duration(Date.now() - since)}: "${words}")` }
    }
    if (Date.now() - since >= timeoutMs) {
      return { answered: false, reason: `no answer from the guest agent within ${duration(timeoutMs)}${last !== '' ? ` (libvirt: ${last})` : ''}` }
    }
    await sleep(POLL_MS, signal)
  }
}

/**
 * The PC text screen (80×25 at 0xb8000, character and attribute bytes) as one line of printable text, read through
 * the QEMU monitor: what the firmware or a boot sector printed before giving up. Empty when it cannot be read (not a
 * PC, a graphics mode shows garbage that matches nothing, a host that refuses monitor commands).
 */
export async function textScreen(virsh: Virsh, dom: string, signal: AbortSignal): Promise<string> {
  const r = await virsh.exec(['qemu-monitor-command', dom, '--hmp', 'xp /1000xw 0xb8000'], { signal, timeoutMs: 30_000, maxOutputBytes: 256 * 1024 })
  return r.code === 0 ? screenText(r.stdout) : ''
}

/** Decodes `xp /Nxw` output (address: word word …, little-endian character/attribute pairs) into text. */
export function screenText(monitor: string): string {
  const chars: string[] = []
  for (const line of monitor.split('\n').slice(0, 1000)) {
    const words = line.split(':')[1]?.trim().split(/\s+/) ?? []
    for (const w of words.slice(0, 16)) {
      if (!/^0x[0-9a-f]{1,8}$/i.test(w)) continue
      const v = Number.parseInt(w, 16)
      for (const c of [v & 0xff, (v >>> 16) & 0xff]) chars.push(c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : ' ')
    }
  }
  return chars.join('').replace(/ {2,}/g, ' ').trim()
}

/** Runs `/bin/sh -c COMMAND` in the guest through the agent (`guest-exec`, `guest-exec-status`) until it exits. */
export async function runInGuest(
  virsh: Virsh,
  dom: string,
  commandLine: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<{ readonly exitCode: number; readonly output: string } | { readonly failed: string }> {
  const request = JSON.stringify({ execute: 'guest-exec', arguments: { path: '/bin/sh', arg: ['-c', commandLine], 'capture-output': true } })
  const started = await virsh.exec(['qemu-agent-command', dom, request, '--timeout', 10], { signal, timeoutMs: 60_000, maxOutputBytes: 64 * 1024 })
  const pid = started.code === 0 ? ExecStarted.safeParse(safeJson(started.stdout)) : undefined
  if (pid?.success !== true) return { failed: `the guest agent did not run the command (${firstLine(started.stderr) || 'no process id in its answer'})` }
  const deadline = Date.now() + timeoutMs
  for (;;) {
    throwIfAborted(signal, 'The health check')
    const status = await virsh.exec(['qemu-agent-command', dom, JSON.stringify({ execute: 'guest-exec-status', arguments: { pid: pid.data.return.pid } }), '--timeout', 10], {
      signal,
      timeoutMs: 60_000,
      maxOutputBytes: 64 * 1024 * 1024,
    })
    const parsed = status.code === 0 ? ExecStatus.safeParse(safeJson(status.stdout)) : undefined
    if (parsed?.success !== true) return { failed: `the guest agent stopped answering about the command (${firstLine(status.stderr) || 'an answer Lifeboat could not read'})` }
    const r = parsed.data.return
    if (r.exited) {
      const output = [r['out-data'], r['err-data']].map((b) => Buffer.from(b ?? '', 'base64').toString('utf8').trim()).filter((t) => t !== '').join('\n')
      return { exitCode: r.exitcode ?? (r.signal !== undefined ? 128 + r.signal : -1), output: output.slice(0, OUTPUT_CHARS) }
    }
    if (Date.now() >= deadline) return { failed: `the command did not finish within ${duration(timeoutMs)}` }
    await sleep(POLL_MS / 4, signal)
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}
