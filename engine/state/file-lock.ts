import { open, readFile, rm, stat } from 'node:fs/promises'
import { hostname } from 'node:os'
import { pidAlive } from '../../adapters/pid-alive'

export class LockTimeoutError extends Error {
  override readonly name = 'LockTimeoutError'
}

interface LockOwner {
  pid: number
  host: string
  since: number
}

/**
 * A short-lived advisory lock between Lifeboat processes (desktop app, bridge, CLI from cron) around a
 * read-modify-write of a small state file. A holder that died is detected (same machine and its pid is gone,
 * or the lock is older than `staleMs`) and the lock is taken over.
 */
export async function withFileLock<T>(
  lockPath: string,
  fn: () => Promise<T>,
  { timeoutMs = 10_000, staleMs = 60_000 }: { timeoutMs?: number; staleMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  const me: LockOwner = { pid: process.pid, host: hostname(), since: Date.now() }
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx', 0o600)
      try {
        await handle.writeFile(JSON.stringify(me))
      } finally {
        await handle.close()
      }
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      if (await isStale(lockPath, staleMs)) {
        await rm(lockPath, { force: true })
        continue
      }
      if (Date.now() > deadline) {
        throw new LockTimeoutError(`Another Lifeboat process is holding ${lockPath}; gave up after ${Math.round(timeoutMs / 1000)} s.`)
      }
      await new Promise((r) => setTimeout(r, 25 + Math.random() * 50))
    }
  }
  try {
    return await fn()
  } finally {
    await rm(lockPath, { force: true })
  }
}

async function isStale(lockPath: string, staleMs: number): Promise<boolean> {
  try {
    const [text, info] = await Promise.all([readFile(lockPath, 'utf8'), stat(lockPath)])
    if (Date.now() - info.mtimeMs > staleMs) return true
    const owner = JSON.parse(text) as Partial<LockOwner>
    if (owner.host === hostname() && typeof owner.pid === 'number') return !pidAlive(owner.pid)
    return false
  } catch {
    // Unreadable or half-written by a holder that is just starting: not stale until it is old.
    return false
  }
}

/**
 * Takes a lock that may be held for hours (a running backup plan) without waiting: resolves to a release
 * function, or undefined while a live process holds it. A holder that died (same machine, pid gone) is replaced.
 */
export async function tryHoldLock(lockPath: string): Promise<(() => Promise<void>) | undefined> {
  const me: LockOwner = { pid: process.pid, host: hostname(), since: Date.now() }
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(lockPath, 'wx', 0o600)
      try {
        await handle.writeFile(JSON.stringify(me))
      } finally {
        await handle.close()
      }
      return async () => {
        await rm(lockPath, { force: true })
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      if (!(await holderDied(lockPath))) return undefined
      await rm(lockPath, { force: true })
    }
  }
  return undefined
}

async function holderDied(lockPath: string): Promise<boolean> {
  try {
    const owner = JSON.parse(await readFile(lockPath, 'utf8')) as Partial<LockOwner>
    return owner.host === hostname() && typeof owner.pid === 'number' && !pidAlive(owner.pid)
  } catch {
    // A lock file that cannot be read is only replaced once it is clearly old.
    try {
      return Date.now() - (await stat(lockPath)).mtimeMs > 60_000
    } catch {
      return true
    }
  }
}

/** True while a live process holds the lock taken with tryHoldLock (read-only: never takes or breaks it). */
export async function lockHeld(lockPath: string): Promise<boolean> {
  try {
    await stat(lockPath)
  } catch {
    return false
  }
  return !(await holderDied(lockPath))
}
