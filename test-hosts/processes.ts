/** Process checks for test peers that must stop only what they started, by PID, and never a reused PID. */
import { readFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { sleep } from './run'

/** Alive and not a zombie (a container's PID 1 may never reap daemons we started, and kill(pid, 0) succeeds on zombies). */
export function processIsAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z' && state !== 'X'
  } catch {
    return false
  }
}

export async function processName(pid: number): Promise<string | undefined> {
  try {
    return (await readFile(`/proc/${pid}/comm`, 'utf8')).trim()
  } catch {
    return undefined
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopPid(pid: number, graceMs = 10_000): Promise<void> {
  const signal = (sig: NodeJS.Signals): boolean => {
    try {
      process.kill(pid, sig)
      return true
    } catch {
      return false
    }
  }
  if (!processIsAlive(pid) || !signal('SIGTERM')) return
  const deadline = Date.now() + graceMs
  while (processIsAlive(pid)) {
    if (Date.now() > deadline) {
      signal('SIGKILL')
      await sleep(100)
      if (Date.now() > deadline + 5000) return
    }
    await sleep(50)
  }
}
