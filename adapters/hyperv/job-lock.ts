import { z } from 'zod'
import { throwIfAborted } from '../host-adapter'
import type { SshConnection } from '../ssh/ssh-connection'
import { commandLine, ps, scriptStdin, type PowerShellExe } from './powershell'
import { runJson, type PowerShellRunner } from './ps-runner'
import { arrayOf } from './schemas'
import { checkJobId } from './tags'

/**
 * A running job marks itself alive on the host: a PowerShell opens %ProgramData%\Lifeboat\jobs\lifeboat-<job>.lock
 * with FileShare None and waits on its stdin. When the job ends, the connection drops or Lifeboat dies, Windows
 * closes the handle. Reconcile tries to open the file the same way: if that fails, the job still runs somewhere and
 * its checkpoint is left alone. A job that ends normally removes its file, so the folder does not fill up over the years.
 */
export interface JobLock {
  /** False when the lock could not be confirmed (reconcile elsewhere might then clean up after this job). */
  readonly held: boolean
  release(): Promise<void>
}

const LOCK_DIR = ps`Join-Path $env:ProgramData ${'Lifeboat\\jobs'}`

export async function holdJobLock(conn: SshConnection, exe: PowerShellExe, runner: PowerShellRunner, jobId: string, signal: AbortSignal): Promise<JobLock> {
  const name = `lifeboat-${checkJobId(jobId)}.lock`
  const script = ps`$dir = ${LOCK_DIR}
New-Item -ItemType Directory -Force -Path $dir | Out-Null
$path = Join-Path $dir ${name}
$lock = [System.IO.File]::Open($path, 'OpenOrCreate', 'ReadWrite', 'None')
$null = [Console]::In.ReadLine()
$lock.Close()
Remove-Item -LiteralPath $path -ErrorAction SilentlyContinue`
  throwIfAborted(signal, 'Marking the job as running on the host')
  // Not bound to the job's signal: a cancelled job keeps its lock while it cleans up, until release() lets the holder
  // close and remove the file (killing the holder would leave the file behind).
  const exec = await conn.execDuplex(commandLine(exe))
  // Nothing it prints matters, but unread output would keep the channel from ever closing.
  exec.channel.resume()
  exec.channel.write(scriptStdin(script))
  // The holder prints nothing until it ends, so make sure the lock is really held before relying on it.
  let held = false
  try {
    for (let i = 0; i < 20 && !held && !exec.channel.destroyed; i++) {
      held = (await liveJobs(runner, [jobId], signal)).has(jobId)
      if (!held) await new Promise((r) => setTimeout(r, 100))
    }
  } catch (err) {
    // End its input rather than kill it, so that it removes its file on the way out.
    exec.channel.end()
    throw err
  }
  return {
    held,
    async release() {
      exec.channel.end()
      const done = await Promise.race([exec.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))])
      if (done === undefined) exec.kill()
    },
  }
}

/** Job ids whose lock file is held open right now (their jobs are running, in this Lifeboat or another). */
export async function liveJobs(runner: PowerShellRunner, jobIds: readonly string[], signal: AbortSignal): Promise<Set<string>> {
  const ids = [...new Set(jobIds)].filter((id) => /^[0-9a-f-]{36}$/.test(id)).slice(0, 500)
  if (ids.length === 0) return new Set()
  const script = ps`$dir = ${LOCK_DIR}
$live = @(foreach ($id in ${ids}) {
  $p = Join-Path $dir ('lifeboat-' + $id + '.lock')
  if (Test-Path -LiteralPath $p) {
    try {
      $f = [System.IO.File]::Open($p, 'Open', 'ReadWrite', 'None')
      $f.Close()
    } catch {
      $id
    }
  }
})
ConvertTo-Json -Compress -InputObject $live`
  const live = await runJson(runner, script, arrayOf(z.string().max(64), 500), { signal, what: 'Checking which Lifeboat jobs are running' })
  return new Set(live.filter((id) => ids.includes(id)))
}

/**
 * Removes the lock file of a job that no longer runs (a killed Lifeboat cannot remove its own); once its leftovers are
 * cleaned nothing refers to it. Only call it for a job `liveJobs` did not report.
 */
export async function removeStaleLock(runner: PowerShellRunner, jobId: string, signal: AbortSignal): Promise<void> {
  const name = `lifeboat-${checkJobId(jobId)}.lock`
  await runner(ps`$path = Join-Path (${LOCK_DIR}) ${name}
if (Test-Path -LiteralPath $path) { Remove-Item -LiteralPath $path -Force }`, { signal, what: 'Removing the lock file of a job that no longer runs' })
}
