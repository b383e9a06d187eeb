/**
 * A cross-process exclusive lock for test peers that several vitest workers (or short-lived fake-LVM commands) touch
 * at once. It is a kernel flock(2) held by a `flock` child process: if our process dies, the child sees its stdin
 * close and exits, so a killed test run can never leave a stale lock behind (a PID-in-a-file lock can).
 */
import { spawn } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import path from 'node:path'

export interface FileLock {
  release(): Promise<void>
}

export async function acquireFileLock(lockPath: string, timeoutMs = 120_000): Promise<FileLock> {
  await mkdir(path.dirname(lockPath), { recursive: true })
  const seconds = Math.max(1, Math.ceil(timeoutMs / 1000))
  // `read` blocks until our end of the pipe closes: on release() or when this process dies.
  const child = spawn('flock', ['-x', '-w', String(seconds), lockPath, 'sh', '-c', 'echo locked; read _ignored'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)))
  const locked = await new Promise<boolean>((resolve, reject) => {
    child.once('error', reject)
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('locked')) resolve(true)
    })
    void exited.then(() => resolve(false))
  })
  if (!locked) {
    const code = await exited
    throw new Error(`Could not lock ${lockPath} within ${seconds} s (flock exit ${code}): ${stderr.trim()}`)
  }
  return {
    async release() {
      child.stdin.end()
      await exited
    },
  }
}

export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, timeoutMs?: number): Promise<T> {
  const lock = await acquireFileLock(lockPath, timeoutMs)
  try {
    return await fn()
  } finally {
    await lock.release()
  }
}
