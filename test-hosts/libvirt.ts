/**
 * A libvirtd (qemu:///system) for tests, started as TESTING.md describes for these machines: monolithic libvirtd
 * without systemd (`libvirtd -d -p PIDFILE`, after `virtlogd -d`), in a private mount namespace where /dev/kvm is
 * hidden (it exists but cannot run guests; see startDaemons for why it is not hidden behind /dev/null). Test peer only.
 *
 * Sharing: every test process that calls ensureLibvirt() holds a lease (a file named after its PID) in STATE_DIR.
 * A daemon that was already running when the first lease was taken is never stopped. A daemon the test peers started
 * is recorded in owned.json and stopped (by PID, after checking the PID is still that daemon) by whichever stop()
 * releases the last live lease, so parallel test files never pull libvirtd from under each other. Leases of killed
 * processes are pruned on the next call.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { createConnection } from 'node:net'
import path from 'node:path'
import { withFileLock } from './file-lock'
import { processIsAlive, processName, stopPid } from './processes'
import { run, sleep } from './run'
import { cleanupStaleTestDomains } from './test-domain'
import { LIBVIRT_URI } from './virsh'

export { LIBVIRT_URI, virsh } from './virsh'

const STATE_DIR = '/run/lifeboat-test/libvirt'
const LEASES = path.join(STATE_DIR, 'leases')
const OWNED = path.join(STATE_DIR, 'owned.json')
const VIRTLOGD_SOCKET = '/run/libvirt/virtlogd-sock'
/** Directories a fresh machine (no systemd, packages just installed, /run empty after boot) may lack. */
const RUNTIME_DIRS = ['/run/libvirt', '/var/lib/libvirt/qemu', '/var/log/libvirt/qemu', '/var/cache/libvirt/qemu']

interface Owned {
  readonly libvirtdPid: number
  readonly virtlogdPid?: number
}

export interface LibvirtHandle {
  readonly uri: string
  /** False when a libvirtd was already answering before the test peers got involved: it is then never stopped. */
  readonly managedByTests: boolean
  /** Where the daemon started by the test peers logs (useful when a define or start fails). */
  readonly logPath: string
  /** Releases this caller's lease; the last lease stops the daemons the test peers started. Idempotent. */
  stop(): Promise<void>
}

export function canRunLibvirt(): { ok: boolean; reason?: string } {
  if (process.platform !== 'linux') return { ok: false, reason: 'libvirt test peers need Linux.' }
  if (process.getuid?.() !== 0) return { ok: false, reason: 'libvirt test peers need root (system libvirtd, mount namespace).' }
  return { ok: true }
}

export async function ensureLibvirt(options: { readonly timeoutMs?: number } = {}): Promise<LibvirtHandle> {
  const check = canRunLibvirt()
  if (!check.ok) throw new Error(check.reason)
  const timeoutMs = options.timeoutMs ?? 90_000
  const lease = path.join(LEASES, `${process.pid}-${randomBytes(4).toString('hex')}`)
  const logPath = path.join(STATE_DIR, 'libvirtd.log')

  const managedByTests = await withFileLock(path.join(STATE_DIR, 'lock'), async () => {
    await mkdir(LEASES, { recursive: true })
    await pruneDeadLeases()
    if (await answers()) {
      await writeFile(lease, String(process.pid))
      return (await readOwned()) !== undefined
    }
    const owned = await startDaemons(logPath, timeoutMs)
    await writeFile(OWNED, JSON.stringify(owned))
    await writeFile(lease, String(process.pid))
    return true
  }, timeoutMs + 30_000)

  let stopped = false
  return {
    uri: LIBVIRT_URI,
    managedByTests,
    logPath,
    async stop() {
      if (stopped) return
      stopped = true
      await withFileLock(path.join(STATE_DIR, 'lock'), async () => {
        await rm(lease, { force: true })
        await pruneDeadLeases()
        if ((await readdir(LEASES)).length > 0) return
        const owned = await readOwned()
        if (owned === undefined) return
        await destroyLeftoverTestDomains()
        await stopDaemon(owned.libvirtdPid, 'libvirtd')
        if (owned.virtlogdPid !== undefined) await stopDaemon(owned.virtlogdPid, 'virtlogd')
        await rm(OWNED, { force: true })
      })
    },
  }
}

async function answers(): Promise<boolean> {
  try {
    await run('virsh', ['-c', LIBVIRT_URI, 'version'], { timeoutMs: 20_000 })
    return true
  } catch {
    return false
  }
}

async function startDaemons(logPath: string, timeoutMs: number): Promise<Owned> {
  for (const dir of RUNTIME_DIRS) await mkdir(dir, { recursive: true })
  await rm(OWNED, { force: true })
  let virtlogdPid: number | undefined
  if (!(await socketAnswers(VIRTLOGD_SOCKET))) {
    const pidFile = path.join(STATE_DIR, 'virtlogd.pid')
    await rm(pidFile, { force: true })
    await run('virtlogd', ['-d', '-p', pidFile])
    virtlogdPid = await waitForPidFile(pidFile, 'virtlogd', 10_000)
  }
  const pidFile = path.join(STATE_DIR, 'libvirtd.pid')
  await rm(pidFile, { force: true })
  await rm(logPath, { force: true }) // one daemon's log, not every run's
  // A /dev/kvm that exists but cannot run guests is hidden from libvirtd (and so from every QEMU it starts) behind a
  // root-only copy of /dev/null (char 1:3, mode 0600). Not /dev/null itself as TESTING.md has it: that is accessible
  // to the QEMU user, so libvirt believes KVM usable, every probe finds it is not, and the capability cache is rebuilt
  // on every define (~25 s). Not a regular file either: libvirt cannot move a file mount into a domain's private /dev.
  const noKvm = path.join(STATE_DIR, 'no-kvm')
  await rm(noKvm, { force: true })
  await run('mknod', ['-m', '600', noKvm, 'c', '1', '3'])
  const script = '[ ! -e /dev/kvm ] || mount --bind "$1" /dev/kvm; exec /usr/sbin/libvirtd -d -p "$0"'
  await run('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, pidFile, noKvm], {
    env: { ...process.env, LIBVIRT_LOG_OUTPUTS: `3:file:${logPath}` },
    timeoutMs: 30_000,
  })
  const libvirtdPid = await waitForPidFile(pidFile, 'libvirtd', 10_000)
  const deadline = Date.now() + timeoutMs
  while (!(await answers())) {
    if (!processIsAlive(libvirtdPid) || Date.now() > deadline) {
      await stopDaemon(libvirtdPid, 'libvirtd')
      if (virtlogdPid !== undefined) await stopDaemon(virtlogdPid, 'virtlogd')
      const log = await readFile(logPath, 'utf8').catch(() => '')
      throw new Error(`libvirtd did not answer within ${timeoutMs} ms. Its log ends:\n${log.slice(-3000)}`)
    }
    await sleep(200)
  }
  return virtlogdPid === undefined ? { libvirtdPid } : { libvirtdPid, virtlogdPid }
}

async function waitForPidFile(pidFile: string, name: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const pid = Number.parseInt(await readFile(pidFile, 'utf8').catch(() => ''), 10)
    if (Number.isInteger(pid) && pid > 0 && (await processName(pid)) === name) return pid
    await sleep(50)
  }
  throw new Error(`${name} did not write its PID to ${pidFile} within ${timeoutMs} ms`)
}

async function stopDaemon(pid: number, name: string): Promise<void> {
  // Never signal a PID that has since been reused by something else.
  if ((await processName(pid)) !== name) return
  await stopPid(pid, 15_000)
}

/** Domains left by test processes that are gone: their QEMUs would otherwise outlive the daemon we stop. */
async function destroyLeftoverTestDomains(): Promise<void> {
  await cleanupStaleTestDomains().catch(() => undefined)
}

async function pruneDeadLeases(): Promise<void> {
  for (const name of await readdir(LEASES).catch(() => [])) {
    const pid = Number.parseInt(name.split('-')[0] ?? '', 10)
    if (!Number.isInteger(pid) || !processIsAlive(pid)) await rm(path.join(LEASES, name), { force: true })
  }
}

async function readOwned(): Promise<Owned | undefined> {
  try {
    const owned = JSON.parse(await readFile(OWNED, 'utf8')) as Owned
    return processIsAlive(owned.libvirtdPid) ? owned : undefined
  } catch {
    return undefined
  }
}

function socketAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ path: socketPath })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

