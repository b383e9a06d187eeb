/**
 * The Hyper-V simulator as an SSH host: an ssh2 server (no root, no network namespace needed) that behaves like
 * Windows OpenSSH in front of a Hyper-V host — exec requests go to the default shell (cmd by default, or Windows
 * PowerShell / pwsh), SFTP speaks /C:/… paths. Test peer only: product code never knows it is talking to this.
 */
import { createHash } from 'node:crypto'
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import ssh2, { type Connection, type ServerChannel } from 'ssh2'

const { Server, utils } = ssh2
import { HyperVHost, type HostOptions, type SimVm } from './hyperv/host'
import { FileLocks } from './hyperv/locks'
import { SimulatorLimit } from './ps/values'
import type { StdinReader } from './ps/interpreter'
import { serveSftp } from './sftp'
import { ShellHost, type DefaultShell, type ShellConfig } from './shell'

export interface HyperVSimOptions {
  readonly port?: number
  readonly address?: string
  /** Folder for drive C:, keys and disks; a temp folder (removed on close) when absent. */
  readonly dataDir?: string
  /** Running VMs to create, each with one VHDX of known random content. */
  readonly vms?: readonly string[]
  readonly diskSizeMiB?: number
  readonly defaultShell?: DefaultShell
  readonly pwsh?: boolean
  readonly hypervModule?: boolean
  readonly os?: HostOptions['os']
  readonly computerName?: string
  readonly timing?: HostOptions['timing']
  readonly password?: string
}

/** Fault switches a test flips on a running simulator, to walk a flow step by step. */
export interface ExecFaults {
  /** Exec requests so far, counted from 1 as they arrive: each is one PowerShell invocation (a job lock's included). */
  execs: number
  /**
   * The exec with this number fails before its script runs, as a powershell.exe that cannot start does (a line on
   * stderr, exit code 1); one-shot.
   */
  failExec: number | undefined
  /** Told after exec `n`'s script has run, before its exit status goes out (a test cancels a job "after step n" there). */
  afterExec: ((n: number) => void) | undefined
}

export interface HyperVSim {
  readonly address: string
  readonly port: number
  readonly user: string
  readonly password: string
  readonly privateKeyPath: string
  readonly privateKey: string
  /** "SHA256:…" of the host key, as ssh-keygen -lf prints it. */
  readonly fingerprint: string
  readonly dataDir: string
  readonly host: HyperVHost
  /** Change the shell setup between connections (DefaultShell registry value, pwsh installed, Hyper-V module). */
  readonly shell: { -readonly [K in keyof ShellConfig]: ShellConfig[K] }
  /** Exec requests currently running (a killed client shows as one fewer). */
  readonly running: () => number
  /** Scripts that failed because they left the simulated subset (each also failed the exec loudly). */
  readonly limits: string[]
  readonly faults: ExecFaults
  addVm(name: string, options?: { disks?: readonly Buffer[]; state?: SimVm['state'] }): Promise<SimVm>
  close(): Promise<void>
}

/** The guest bytes `--vm NAME` disks get: SHA-256 in counter mode over the name, so anyone can recompute them. */
export function knownContent(name: string, size: number): Buffer {
  const out = Buffer.alloc(size)
  let at = 0
  for (let counter = 0; at < size; counter++) {
    const block = createHash('sha256').update(`lifeboat-hyperv-sim:${name}:${counter}`).digest()
    block.copy(out, at)
    at += block.length
  }
  return out
}

class ChannelStdin implements StdinReader {
  private buffer = ''
  private ended = false
  private readonly waiters: (() => void)[] = []
  push(data: Buffer): void {
    this.buffer += data.toString('utf8')
    this.wake()
  }
  end(): void {
    this.ended = true
    this.wake()
  }
  private wake(): void {
    for (const w of this.waiters.splice(0)) w()
  }
  private async wait(signal: AbortSignal): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(new Error('session killed'))
      signal.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(() => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      })
    })
  }
  async readAll(signal: AbortSignal): Promise<string> {
    while (!this.ended) await this.wait(signal)
    const all = this.buffer
    this.buffer = ''
    return all
  }
  async readLine(signal: AbortSignal): Promise<string | null> {
    for (;;) {
      const nl = this.buffer.indexOf('\n')
      if (nl >= 0) {
        const line = this.buffer.slice(0, nl).replace(/\r$/, '')
        this.buffer = this.buffer.slice(nl + 1)
        return line
      }
      if (this.ended) {
        if (this.buffer === '') return null
        const rest = this.buffer
        this.buffer = ''
        return rest
      }
      await this.wait(signal)
    }
  }
}

/**
 * ssh2 1.17's generateKeyPairSync drops a leading zero byte of an ed25519 public key (about 1 key in 256), and its own
 * parseKey then refuses both halves ("Malformed OpenSSH public key"): a simulator that starts 1 time in ~128 with
 * unreadable keys. Such a pair is drawn again.
 */
export function ed25519Pair(comment?: string): { private: string; public: string } {
  for (let i = 0; i < 32; i++) {
    const pair = utils.generateKeyPairSync('ed25519', comment === undefined ? undefined : { comment })
    if (!(utils.parseKey(pair.public) instanceof Error) && !(utils.parseKey(pair.private) instanceof Error)) return pair
  }
  throw new Error('could not make a readable ed25519 key pair for the simulator')
}

export async function startHyperVSim(options: HyperVSimOptions = {}): Promise<HyperVSim> {
  const owned = options.dataDir === undefined
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'lb-hyperv-sim-')))
  await mkdir(dataDir, { recursive: true })
  const keyDir = path.join(dataDir, 'ssh')
  await mkdir(keyDir, { recursive: true })
  const hostKeyPath = path.join(keyDir, 'ssh_host_ed25519_key')
  const clientKeyPath = path.join(keyDir, 'client_key')
  if (!existsSync(hostKeyPath)) await writeFile(hostKeyPath, ed25519Pair().private, { mode: 0o600 })
  if (!existsSync(clientKeyPath)) {
    const pair = ed25519Pair('lifeboat-hyperv-sim-client')
    await writeFile(clientKeyPath, pair.private, { mode: 0o600 })
    await writeFile(`${clientKeyPath}.pub`, pair.public)
  }
  await chmod(clientKeyPath, 0o600)
  const hostKey = await readFile(hostKeyPath, 'utf8')
  const privateKey = await readFile(clientKeyPath, 'utf8')
  const clientPub = utils.parseKey(await readFile(`${clientKeyPath}.pub`, 'utf8'))
  const parsedHost = utils.parseKey(hostKey)
  if (clientPub instanceof Error || parsedHost instanceof Error) throw new Error('could not read the simulator keys')
  const fingerprint = `SHA256:${createHash('sha256').update(parsedHost.getPublicSSH()).digest('base64').replace(/=+$/, '')}`
  const password = options.password ?? 'Lifeboat-Hyper-V-1!'

  const host = new HyperVHost({ dataDir, ...(options.computerName !== undefined ? { computerName: options.computerName } : {}), ...(options.os !== undefined ? { os: options.os } : {}), ...(options.timing !== undefined ? { timing: options.timing } : {}) })
  const locks = new FileLocks(host.fs)
  const shellConfig = { defaultShell: options.defaultShell ?? 'cmd', pwsh: options.pwsh ?? true, hypervModule: options.hypervModule ?? true }
  const limits: string[] = []
  const faults: ExecFaults = { execs: 0, failExec: undefined, afterExec: undefined }
  let running = 0
  const size = (options.diskSizeMiB ?? 64) * 1024 * 1024
  for (const name of options.vms ?? []) await host.addVm({ name, disks: [knownContent(name, size)] })

  const connections = new Set<Connection>()
  const server = new Server({ hostKeys: [hostKey], ident: 'OpenSSH_for_Windows_8.6' }, (client) => {
    connections.add(client)
    client.on('close', () => connections.delete(client))
    client.on('error', () => undefined)
    client.on('authentication', (ctx) => {
      if (ctx.username.toLowerCase() !== 'administrator') return ctx.reject(['publickey', 'password'])
      if (ctx.method === 'password' && ctx.password === password) return ctx.accept()
      if (ctx.method === 'publickey' && ctx.key.algo === clientPub.type && ctx.key.data.equals(clientPub.getPublicSSH())) {
        if (ctx.signature === undefined || ctx.blob === undefined) return ctx.accept()
        if (clientPub.verify(ctx.blob, ctx.signature, ctx.hashAlgo)) return ctx.accept()
      }
      ctx.reject(['publickey', 'password'])
    })
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession()
        session.on('pty', (_a, reject) => reject())
        session.on('shell', (_a, reject) => reject())
        // Windows OpenSSH ignores signals (closing the channel is what ends a process). ssh2 passes no accept
        // function when the client wants no reply, whatever its typings say.
        const ok = (accept: unknown) => (accept as (() => void) | undefined)?.()
        session.on('env', ok)
        session.on('signal', ok)
        session.on('sftp', (accept) => serveSftp(accept(), host, locks))
        session.on('exec', (accept, _reject, info) => {
          const channel: ServerChannel = accept()
          const n = ++faults.execs
          if (faults.failExec === n) {
            faults.failExec = undefined
            channel.stderr.write("Program 'powershell.exe' failed to run: Insufficient system resources exist to complete the requested service\r\n")
            channel.exit(1)
            channel.end()
            channel.close()
            return
          }
          const abort = new AbortController()
          const stdin = new ChannelStdin()
          channel.on('data', (d: Buffer) => stdin.push(d))
          channel.on('end', () => stdin.end())
          channel.on('close', () => abort.abort(new Error('session closed')))
          running++
          const shell = new ShellHost(host, locks, shellConfig)
          shell
            .exec(info.command, { stdin, signal: abort.signal, stdout: (b) => channel.write(b), stderr: (b) => channel.stderr.write(b) })
            .then(
              (code) => {
                if (abort.signal.aborted) return
                faults.afterExec?.(n)
                // Windows OpenSSH closes the channel once the process has exited.
                channel.exit(code)
                channel.end()
                channel.close()
              },
              (e: unknown) => {
                if (abort.signal.aborted) return
                const message = e instanceof SimulatorLimit ? e.message : `Hyper-V simulator internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`
                limits.push(message)
                channel.stderr.write(`${message}\r\n`)
                channel.exit(e instanceof SimulatorLimit ? 99 : 98)
                channel.end()
                channel.close()
              },
            )
            .finally(() => running--)
        })
      })
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, options.address ?? '127.0.0.1', () => resolve())
  })
  const addr = server.address() as AddressInfo
  return {
    address: addr.address,
    port: addr.port,
    user: 'Administrator',
    password,
    privateKeyPath: clientKeyPath,
    privateKey,
    fingerprint,
    dataDir,
    host,
    shell: shellConfig,
    running: () => running,
    limits,
    faults,
    async addVm(name, o = {}) {
      return await host.addVm({ name, disks: o.disks ?? [knownContent(name, size)], ...(o.state !== undefined ? { state: o.state } : {}) })
    },
    async close() {
      for (const c of connections) c.end()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      if (owned) await rm(dataDir, { recursive: true, force: true })
    },
  }
}
