import { retrying } from '../cleanup-retry'
import { AdapterError } from '../host-adapter'
import type { DuplexExec } from '../ssh/ssh-connection'
import type { RootShell } from '../ssh/root-shell'
import { raw, sh } from '../ssh/shell-quote'

/** Everything a job leaves on a host carries this tag; reconcile() looks for it. */
export const TAG = 'lifeboat'
export const LOCK_DIR = '/var/tmp'

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
/** Finds the job id in anything Lifeboat tagged (file names, snapshot and checkpoint names, LV names). */
export const TAG_PATTERN = new RegExp(`lifeboat-(${UUID})`)

export function checkJobId(jobId: string): string {
  if (!new RegExp(`^${UUID}$`).test(jobId)) throw new AdapterError('BAD_RESPONSE', `"${jobId.slice(0, 80)}" is not a job id Lifeboat can tag host objects with (a lower-case UUID).`)
  return jobId
}

export function jobTag(jobId: string): string {
  return `${TAG}-${checkJobId(jobId)}`
}

export function lockPath(jobId: string): string {
  return `${LOCK_DIR}/${jobTag(jobId)}.lock`
}

export interface JobLock {
  /** Ends the lock and removes its file; resolves with what could not be removed (never throws). */
  release(): Promise<string[]>
}

/**
 * Marks a job as alive on the host for as long as its SSH channel is open: `flock LOCK cat` holds the lock until
 * stdin closes — when the job releases it, or when the connection or the Lifeboat process dies. reconcile() tests
 * the lock, so it never cleans up after a job that is still running (in this process or another Lifeboat).
 */
export async function holdJobLock(shell: RootShell, jobId: string, signal?: AbortSignal, reconnect?: (signal: AbortSignal) => Promise<RootShell>, options: { wait?: boolean } = {}): Promise<JobLock> {
  const path = lockPath(jobId)
  // `wait`: taking the lock again after a lost connection, whose session on the host may not have ended yet (a
  // half-open TCP connection outlives the drop until sshd notices): the lock passes from that session to this one
  // without a moment in which nobody holds it.
  const flock = options.wait === true ? raw('flock') : raw('flock -n')
  let exec: DuplexExec | undefined
  try {
    exec = await shell.execDuplex(sh`command -v flock >/dev/null 2>&1 || exit 0; exec ${flock} ${path} cat ${raw('>/dev/null')}`, signal)
    exec.channel.resume()
  } catch {
    exec = undefined
  }
  return {
    async release() {
      if (exec === undefined) return []
      exec.channel.end()
      const done = await Promise.race([exec.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 3000))])
      if (done === undefined) exec.kill()
      // After a dropped connection the lock file is removed over the new one; one failed command is tried again
      // (a file left in /var/tmp is small, but "nothing left behind" has to be true).
      try {
        await retrying(
          async () => {
            const current = reconnect === undefined ? shell : await reconnect(AbortSignal.timeout(30_000)).catch(() => shell)
            await current.run(sh`rm -f -- ${path}`, { timeoutMs: 20_000, what: 'removing the job lock file' })
          },
          { times: 3, delayMs: () => 1000 },
        )
        return []
      } catch (err) {
        return [`The job's lock file ${path} on the host could not be removed (${err instanceof Error ? err.message : String(err)}); it holds nothing and can be deleted.`]
      }
    },
  }
}

/** Jobs of this process that count as live whether or not their lock is held on the host right now. */
const liveHere = new Map<string, number>()

/**
 * Counts a job of this process as live in liveJobs until the returned function is called, also while the host's
 * lock is not held: a run that lost its connection is this process's to serve again, and the leftovers check, the
 * runs list and `--resume` in this process must not take it for one whose Lifeboat died. (Another process sees the
 * lock on the host only.)
 */
export function countLiveHere(jobId: string): () => void {
  liveHere.set(jobId, (liveHere.get(jobId) ?? 0) + 1)
  let ended = false
  return () => {
    if (ended) return
    ended = true
    const n = (liveHere.get(jobId) ?? 1) - 1
    if (n <= 0) liveHere.delete(jobId)
    else liveHere.set(jobId, n)
  }
}

/** Job ids whose lock is held right now (their jobs are running somewhere), and this process's (countLiveHere). */
export async function liveJobs(shell: RootShell, jobIds: readonly string[], signal?: AbortSignal): Promise<Set<string>> {
  const live = new Set<string>(jobIds.filter((id) => liveHere.has(id)))
  const ids = [...new Set(jobIds)].filter((id) => /^[A-Za-z0-9-]{1,64}$/.test(id) && !live.has(id)).slice(0, 500)
  if (ids.length === 0) return live
  const script = 'command -v flock >/dev/null 2>&1 || { echo NOFLOCK; exit 0; }; for id in "$@"; do [ -e "/var/tmp/lifeboat-$id.lock" ] || continue; flock -n "/var/tmp/lifeboat-$id.lock" true || echo "LIVE $id"; done; exit 0'
  const out = await shell.run(sh`sh -c ${script} lifeboat-live ${ids}`, { ...(signal ? { signal } : {}), timeoutMs: 60_000, maxOutputBytes: 256 * 1024 })
  if (out.includes('NOFLOCK')) for (const id of ids) live.add(id) // cannot tell: treat as live, offer but never auto-clean
  for (const line of out.split('\n')) {
    const m = /^LIVE ([A-Za-z0-9-]{1,64})$/.exec(line.trim())
    if (m?.[1] !== undefined) live.add(m[1])
  }
  return live
}
