/** Test-only helpers for the SFTP backend's tests (never imported by product code). */
import { readdir, readFile } from 'node:fs/promises'
import type { SshTestHost } from '../../../test-hosts/ssh-host'

/**
 * SIGKILLs the per-connection processes of a test host's sshd ("sshd: user [priv]", "sshd: user@notty" and the
 * internal-sftp child): what a crashed server or a cut cable looks like to the client. The listener itself keeps
 * running, so the test can reconnect. Only descendants of the test host's own sshd are touched, by PID.
 * Resolves with how many processes were killed.
 */
export async function killSshSessions(host: SshTestHost): Promise<number> {
  const listener = host.pid()
  if (listener === undefined) return 0
  const parents = new Map<number, number>()
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '')
    // Fields after the parenthesised command name: state, ppid, …
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    if (Number.isInteger(ppid)) parents.set(Number(entry), ppid)
  }
  const isBelow = (pid: number): boolean => {
    for (let p = parents.get(pid), hops = 0; p !== undefined && hops < 64; p = parents.get(p), hops++) if (p === listener) return true
    return false
  }
  let killed = 0
  for (const pid of parents.keys()) {
    if (!isBelow(pid)) continue
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
    // The listener runs as "/usr/sbin/sshd -D …"; sessions retitle themselves "sshd: …".
    if (!cmdline.startsWith('sshd: ')) continue
    try {
      process.kill(pid, 'SIGKILL')
      killed++
    } catch {
      // gone already
    }
  }
  return killed
}
