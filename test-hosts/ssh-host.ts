/**
 * A real OpenSSH server in its own network namespace, with its own hostname, users and host key: a Linux "host"
 * Lifeboat reaches over a veth link exactly as it would reach a machine on the LAN. Test peer only.
 *
 * Needs root (network namespaces, bind mounts). Users exist only inside the server's private mount namespace:
 * /etc/passwd, /etc/shadow and /etc/group are bind-mounted from the host's temp folder, so nothing on the
 * machine itself changes.
 */
import { spawn, execFile } from 'node:child_process'
import { mkdtemp, mkdir, readFile, writeFile, rm, chmod, copyFile } from 'node:fs/promises'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface SshTestHostOptions {
  /** Hostname the server reports (`uname -n`). */
  readonly hostname?: string
  /** Password of the unprivileged test user. */
  readonly password?: string
  /** Extra lines appended to sshd_config. */
  readonly extraConfig?: readonly string[]
  /**
   * A second name for root (uid 0) that signs in with the password as well as the client key: Windows'
   * Administrator on the Hyper-V test host. Root itself keeps key-only login.
   */
  readonly adminUser?: string
}

export interface SshTestHost {
  readonly address: string
  readonly port: number
  readonly hostname: string
  readonly namespace: string
  readonly dir: string
  /** Unprivileged user with a password and the client key. */
  readonly user: string
  readonly password: string
  /** Private key (OpenSSH format) accepted for root and for `user`. */
  readonly clientKeyPath: string
  readonly clientPrivateKey: string
  /** What `ssh-keygen -lf` prints for the server's host key. */
  fingerprint: string
  keyType: string
  readonly pid: () => number | undefined
  /** Generates a new host key and restarts sshd: what a reinstall (or an attacker) looks like. */
  changeHostKey(): Promise<void>
  /**
   * Limits what the host sends to `mbit` Mbit/s (a token bucket on its side of the link, as a slow LAN or WAN link
   * would); the returned function lifts the limit. For tests that must act while a transfer is still running.
   */
  limitSending(mbit: number): Promise<() => Promise<void>>
  /** The same for what the host receives (a token bucket on the client's side of the link): slow uploads. */
  limitReceiving(mbit: number): Promise<() => Promise<void>>
  /** Stops sshd (by PID) and removes the namespace and the temp folder. */
  stop(): Promise<void>
}

export function canRunSshHosts(): { ok: boolean; reason?: string } {
  if (process.platform !== 'linux') return { ok: false, reason: 'SSH test hosts need Linux network namespaces.' }
  if (process.getuid?.() !== 0) return { ok: false, reason: 'SSH test hosts need root (network namespaces).' }
  return { ok: true }
}

export async function startSshHost(options: SshTestHostOptions = {}): Promise<SshTestHost> {
  const check = canRunSshHosts()
  if (!check.ok) throw new Error(check.reason)
  const dir = await mkdtemp(path.join(tmpdir(), 'lb-sshhost-'))
  await chmod(dir, 0o755) // the unprivileged test user must reach its home below it
  const hostname = options.hostname ?? 'lb-test-host'
  const password = options.password ?? 'correct horse battery staple'
  const user = 'lbadmin'

  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'lifeboat-test-client', '-f', path.join(dir, 'client_key')])
  const clientPub = await readFile(path.join(dir, 'client_key.pub'), 'utf8')
  await mkdir(path.join(dir, 'authorized_keys'))
  const admin = options.adminUser
  if (admin !== undefined && !/^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(admin)) throw new Error(`Test host admin name must be a plain word: ${admin}`)
  for (const u of ['root', user, ...(admin !== undefined ? [admin] : [])]) await writeFile(path.join(dir, 'authorized_keys', u), clientPub)
  const home = path.join(dir, 'home', user)
  await mkdir(home, { recursive: true })

  if (!/^[a-z0-9-]{1,63}$/.test(hostname)) throw new Error(`Test host name must be a plain DNS label: ${hostname}`)
  const { stdout: hash } = await run('openssl', ['passwd', '-6', password])
  const passwd = await readFile('/etc/passwd', 'utf8')
  const shadow = await readFile('/etc/shadow', 'utf8')
  const group = await readFile('/etc/group', 'utf8')
  const adminPasswd = admin !== undefined ? `${admin}:x:0:0:Lifeboat test administrator:/root:/bin/sh\n` : ''
  const adminShadow = admin !== undefined ? `${admin}:${hash.trim()}:19000:0:99999:7:::\n` : ''
  await writeFile(path.join(dir, 'passwd'), `${passwd.trimEnd()}\n${user}:x:15000:15000:Lifeboat test admin:${home}:/bin/sh\n${adminPasswd}`)
  await writeFile(path.join(dir, 'shadow'), `${shadow.trimEnd()}\n${user}:${hash.trim()}:19000:0:99999:7:::\n${adminShadow}`)
  await writeFile(path.join(dir, 'group'), `${group.trimEnd()}\n${user}:x:15000:\n`)
  await chmod(path.join(dir, 'shadow'), 0o600)
  await run('chown', ['-R', '15000:15000', home])

  const { index, namespace } = await createNamespace()
  const address = `10.200.${index}.2`
  const config = [
    `Port 22`,
    `ListenAddress ${address}`,
    `HostKey ${path.join(dir, 'host_key')}`,
    `PidFile ${path.join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}/%u`,
    `PasswordAuthentication yes`,
    `KbdInteractiveAuthentication no`,
    `PermitRootLogin prohibit-password`,
    `UsePAM no`,
    `StrictModes no`,
    `MaxSessions 32`,
    `MaxStartups 64`,
    `LogLevel VERBOSE`,
    `Subsystem sftp internal-sftp`,
    ...(options.extraConfig ?? []),
    // uid 0 signs in with a password only under the admin alias (root's own password is this machine's); last,
    // because a Match block runs to the end of the file.
    ...(admin !== undefined ? [`Match User ${admin}`, '  PermitRootLogin yes'] : []),
  ]
  await writeFile(path.join(dir, 'sshd_config'), config.join('\n') + '\n')
  await writeFile(path.join(dir, 'empty-rc'), '')

  let child: ReturnType<typeof spawn> | undefined
  const host: SshTestHost = {
    address,
    port: 22,
    hostname,
    namespace,
    dir,
    user,
    password,
    clientKeyPath: path.join(dir, 'client_key'),
    clientPrivateKey: await readFile(path.join(dir, 'client_key'), 'utf8'),
    fingerprint: '',
    keyType: '',
    pid: () => child?.pid,
    limitSending: (mbit) => limitLink(['ip', 'netns', 'exec', namespace, 'tc'], `lbn${index}`, mbit),
    limitReceiving: (mbit) => limitLink(['tc'], `lbh${index}`, mbit),
    async changeHostKey() {
      await stopSshd(child)
      await rm(path.join(dir, 'host_key'), { force: true })
      await rm(path.join(dir, 'host_key.pub'), { force: true })
      await newHostKey()
      child = await startSshd()
    },
    async stop() {
      await stopSshd(child)
      child = undefined
      await run('ip', ['netns', 'del', namespace]).catch(() => undefined)
      await rm(dir, { recursive: true, force: true })
    },
  }

  async function newHostKey(): Promise<void> {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', hostname, '-f', path.join(dir, 'host_key')])
    const { stdout } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', path.join(dir, 'host_key.pub')])
    // "256 SHA256:abc... comment (ED25519)"
    const parts = stdout.trim().split(/\s+/)
    host.fingerprint = parts[1] ?? ''
    host.keyType = 'ssh-ed25519'
  }

  async function startSshd(): Promise<ReturnType<typeof spawn>> {
    const script = [
      `hostname ${hostname}`,
      `mount --bind ${dir}/passwd /etc/passwd`,
      `mount --bind ${dir}/shadow /etc/shadow`,
      `mount --bind ${dir}/group /etc/group`,
      // sshd runs every command through root's shell, and bash reads ~/.bashrc when sshd starts it: a developer
      // machine's dotfiles (pyenv init costs 1-2 s a command here) are not part of the server this host stands for.
      `{ ! [ -f /root/.bashrc ] || mount --bind ${dir}/empty-rc /root/.bashrc; }`,
      `mkdir -p /run/sshd`,
      `exec /usr/sbin/sshd -D -e -f ${dir}/sshd_config`,
    ].join(' && ')
    const logPath = path.join(dir, 'sshd.log')
    const { openSync } = await import('node:fs')
    const log = openSync(logPath, 'a')
    const proc = spawn('ip', ['netns', 'exec', namespace, 'unshare', '--uts', '--mount', '--propagation', 'private', 'sh', '-c', script], {
      stdio: ['ignore', log, log],
      detached: true,
    })
    proc.unref()
    await waitForPort(address, 22, 10_000, async () => `sshd did not start; its log says:\n${await readFile(logPath, 'utf8').catch(() => '')}`)
    return proc
  }

  try {
    await newHostKey()
    child = await startSshd()
  } catch (err) {
    await host.stop()
    throw err
  }
  return host
}

/** A token bucket of `mbit` Mbit/s on what `dev` sends (tc run through `tc`, a command prefix); returns its removal. */
async function limitLink(tc: readonly string[], dev: string, mbit: number): Promise<() => Promise<void>> {
  if (!Number.isFinite(mbit) || mbit <= 0) throw new Error(`A link limit needs a rate in Mbit/s, not ${mbit}.`)
  const [command = 'tc', ...prefix] = tc
  await run(command, [...prefix, 'qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${mbit}mbit`, 'burst', '256kb', 'latency', '200ms'])
  return async () => {
    await run(command, [...prefix, 'qdisc', 'del', 'dev', dev, 'root']).catch(() => undefined)
  }
}

async function createNamespace(): Promise<{ index: number; namespace: string }> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const index = 1 + Math.floor(Math.random() * 250)
    const namespace = `lbt-${index}`
    try {
      await run('ip', ['netns', 'add', namespace])
    } catch {
      continue // taken by a parallel test process: try another index
    }
    const hostSide = `lbh${index}`
    const nsSide = `lbn${index}`
    // The namespace was free, so a link of that name is an orphan of a killed test process: it would make
    // `ip link add` fail, and it belongs to nobody.
    await run('ip', ['link', 'del', hostSide]).catch(() => undefined)
    try {
      await run('ip', ['link', 'add', hostSide, 'type', 'veth', 'peer', 'name', nsSide])
      await run('ip', ['link', 'set', nsSide, 'netns', namespace])
      await run('ip', ['addr', 'add', `10.200.${index}.1/24`, 'dev', hostSide])
      await run('ip', ['link', 'set', hostSide, 'up'])
      await run('ip', ['netns', 'exec', namespace, 'ip', 'addr', 'add', `10.200.${index}.2/24`, 'dev', nsSide])
      await run('ip', ['netns', 'exec', namespace, 'ip', 'link', 'set', nsSide, 'up'])
      await run('ip', ['netns', 'exec', namespace, 'ip', 'link', 'set', 'lo', 'up'])
      return { index, namespace }
    } catch (err) {
      await run('ip', ['link', 'del', hostSide]).catch(() => undefined)
      await run('ip', ['netns', 'del', namespace]).catch(() => undefined)
      throw err
    }
  }
  throw new Error('Could not find a free network namespace slot for a test host.')
}

async function stopSshd(proc: ReturnType<typeof spawn> | undefined): Promise<void> {
  if (proc?.pid === undefined || proc.exitCode !== null) return
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  try {
    process.kill(proc.pid, 'SIGTERM')
  } catch {
    return
  }
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 5000))
  if ((await Promise.race([exited, timeout])) === 'timeout') {
    try {
      process.kill(proc.pid, 'SIGKILL')
    } catch {
      /* already gone */
    }
  }
}

export async function waitForPort(host: string, port: number, timeoutMs: number, explain?: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host, port })
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error((await explain?.()) ?? `${host}:${port} did not open within ${timeoutMs} ms`)
}

/** Copies the client key to `target` with 0600, as an admin's key file would be. */
export async function writeClientKey(host: SshTestHost, target: string): Promise<void> {
  await copyFile(host.clientKeyPath, target)
  await chmod(target, 0o600)
}

/**
 * Cuts every SSH session of a test host, as a network drop or a restarted sshd would: the per-connection sshd
 * processes (the listener's children) are killed, so every client connection ends and everything it carried on the
 * host goes with it (commands, streamlocal forwards, locks held through a channel). The listener stays: clients can
 * connect again at once.
 */
export async function cutSshSessions(host: SshTestHost): Promise<void> {
  const listener = host.pid()
  if (listener === undefined) return
  const { stdout } = await run('ps', ['-o', 'pid=', '--ppid', String(listener)])
  for (const pid of stdout.split('\n').map((l) => Number(l.trim())).filter((n) => Number.isInteger(n) && n > 0)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
}

/**
 * Turns every new SSH connection to a test host away (a TCP reset from its namespace's firewall, as a host whose
 * sshd is down answers) until the returned function lets them in again. Sessions already open are not touched.
 */
export async function refuseSshConnections(host: SshTestHost): Promise<() => Promise<void>> {
  const rule = ['INPUT', '-p', 'tcp', '--dport', String(host.port), '-j', 'REJECT', '--reject-with', 'tcp-reset']
  await run('ip', ['netns', 'exec', host.namespace, 'iptables', '-I', ...rule])
  let admitted = false
  return async () => {
    if (admitted) return
    admitted = true
    await run('ip', ['netns', 'exec', host.namespace, 'iptables', '-D', ...rule])
  }
}
