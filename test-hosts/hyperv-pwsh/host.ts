/**
 * The Hyper-V test host on real PowerShell: a real sshd in its own network namespace (test-hosts/ssh-host.ts) whose
 * exec requests are run the way Windows OpenSSH runs them (lib/winshell.sh: cmd.exe's /c, then powershell.exe or
 * pwsh → the real pwsh with the same arguments), with the Hyper-V and CimCmdlets modules of modules/ on its
 * PSModulePath. Their cmdlets reach the simulator's model (test-hosts/hyperv-sim/hyperv) through a unix socket
 * served by this process (bridge.ts), so tests see and steer the VMs as with the ssh2 simulator. C:\ paths in scripts
 * (modules/WindowsPaths, lib/WindowsPaths.cs) and the SFTP subsystem (sftp-socket.ts) reach the same model. Test peer only.
 */
import { existsSync, writeFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises'
import { homedir, tmpdir } from 'node:os'
import path from 'node:path'
import type { AdapterOptions } from '../../adapters/host-adapter'
import type { HyperVContext } from '../../adapters/hyperv/context'
import { HyperVAdapter, type HyperVAdapterOptions } from '../../adapters/hyperv/hyperv-adapter'
import { sshRunner } from '../../adapters/hyperv/ps-runner'
import { SshConnectionHolder } from '../../adapters/ssh/ssh-adapter-base'
import { shQuote } from '../../adapters/ssh/shell-quote'
import { HyperVHost, type HostOptions, type SimVm } from '../hyperv-sim/hyperv/host'
import { knownContent } from '../hyperv-sim/hyperv/known-content'
import { startSshHost, type SshTestHost } from '../ssh-host'
import { startModelBridge, type ModelBridge } from './bridge'
import { HERE, canRunHyperVPwshHost, findPwsh, typesAssembly } from './pwsh'
import { startPwshPool, type PwshPool } from './pool'
import { startSftpSocket, type SftpSocket } from './sftp-socket'

export interface HyperVPwshHostOptions {
  /** Running VMs to create, each with one VHDX whose guest bytes are knownContent(name). */
  readonly vms?: readonly string[]
  readonly diskSizeMiB?: number
  readonly computerName?: string
  readonly os?: HostOptions['os']
  readonly timing?: HostOptions['timing']
  /** Folder of drive C: (the model's data); a temp folder, removed by stop(), when absent. */
  readonly dataDir?: string
  /** Password of Administrator (a second name for the host's root; key login works too). */
  readonly password?: string
  /** Windows OpenSSH's DefaultShell, whether pwsh and the Hyper-V module are installed (changeable: setShell). */
  readonly shell?: Partial<ShellSwitches>
  /**
   * A new pwsh process for every exec, as on Windows, instead of the warm pool (see pool.ts); also
   * LIFEBOAT_PWSH_COLD=1. Slower by about half a CPU-second an exec on an idle machine, several seconds under load.
   */
  readonly cold?: boolean
}

export interface ShellSwitches {
  /** What Windows OpenSSH runs an exec's command line with (the DefaultShell registry value). */
  defaultShell: 'cmd' | 'powershell' | 'pwsh'
  /** PowerShell 7 installed beside Windows PowerShell. */
  pwsh: boolean
  /** The Hyper-V PowerShell module installed (the role's management tools). */
  hypervModule: boolean
}

export interface HyperVPwshHost {
  readonly address: string
  readonly port: number
  /** The SSH user: Administrator (uid 0 on this host), with the key or the password. */
  readonly user: string
  readonly password: string
  readonly privateKeyPath: string
  /** Drive C:'s folder (the model's data). */
  readonly dataDir: string
  /** The shell setup for the next exec; a copy of what is in force. */
  readonly shell: ShellSwitches
  /** Takes effect with the next exec (a file winshell.sh reads), like a registry change on Windows. */
  setShell(change: Partial<ShellSwitches>): void
  readonly privateKey: string
  readonly fingerprint: string
  /** The simulator's model: VMs, checkpoints, disks. */
  readonly host: HyperVHost
  readonly bridge: ModelBridge
  readonly ssh: SshTestHost
  /** The warm pwsh pool, unless cold: exec count and faults (failExec, afterExec) as the ssh2 simulator's. */
  readonly pool: PwshPool | undefined
  vm(name: string): SimVm
  /** A VM of the model (running unless `state` says otherwise), disks of knownContent(name) unless given. */
  addVm(name: string, options?: { disks?: readonly Buffer[]; state?: SimVm['state'] }): Promise<SimVm>
  /** An adapter on its own connection, host key pinned; closed by stop(). */
  newAdapter(extra?: HyperVAdapterOptions): HyperVAdapter
  /** The adapter's script runner and context on a connection of its own (tests of single scripts); closed by stop(). */
  newContext(extra?: { rct?: boolean }): HyperVContext
  stop(): Promise<void>
}

/** Windows' built-in administrator: the SSH user of this host (uid 0 here; root keeps key-only login). */
const ADMIN = 'Administrator'

/** sshd_config's SetEnv takes double-quoted words; the paths here are ours, but say so instead of mis-quoting one. */
function setEnvWord(name: string, value: string): string {
  if (/["\\\n]/.test(value)) throw new Error(`The Hyper-V test host cannot pass ${name} through sshd_config: ${value}`)
  return `${name}="${value}"`
}

/** Debian's python3 for the pool's exec relay (lib/relay.py); not a developer's pyenv shim, which starts slowly. */
function findPython(): string {
  for (const p of ['/usr/bin/python3', '/usr/local/bin/python3']) {
    if (existsSync(p)) return p
  }
  throw new Error('The Hyper-V test host needs python3 for its pwsh pool (or LIFEBOAT_PWSH_COLD=1).')
}

export async function startHyperVPwshHost(options: HyperVPwshHostOptions = {}): Promise<HyperVPwshHost> {
  const check = canRunHyperVPwshHost()
  const pwsh = findPwsh()
  if (!check.ok || pwsh === undefined) throw new Error(check.reason ?? 'No pwsh.')
  const dir = await mkdtemp(path.join(tmpdir(), 'lb-hvpwsh-'))
  const adapters: HyperVAdapter[] = []
  const holders: SshConnectionHolder[] = []
  let bridge: ModelBridge | undefined
  let sftp: SftpSocket | undefined
  let ssh: SshTestHost | undefined
  let pool: PwshPool | undefined
  const cold = options.cold ?? process.env.LIFEBOAT_PWSH_COLD === '1'
  try {
    const types = await typesAssembly(pwsh, AbortSignal.timeout(180_000))
    const dataDir = options.dataDir ?? path.join(dir, 'data')
    const host = new HyperVHost({ dataDir, computerName: options.computerName ?? 'HV01', ...(options.os !== undefined ? { os: options.os } : {}), ...(options.timing !== undefined ? { timing: options.timing } : {}) })
    const size = (options.diskSizeMiB ?? 8) * 1024 * 1024
    for (const name of options.vms ?? []) await host.addVm({ name, disks: [knownContent(name, size)] })
    bridge = await startModelBridge(host, path.join(dir, 'model.sock'))
    sftp = await startSftpSocket(host, path.join(dir, 'sftp.sock'))
    // pwsh's CurrentUser module folder (first in module lookup, see lib/winshell.sh) is modules/ itself (the manifests
    // load the compiled cmdlets by assembly name). The same without the Hyper-V module, for a host without the role's tools.
    await mkdir(path.join(dir, 'xdg', 'powershell'), { recursive: true })
    await symlink(path.join(HERE, 'modules'), path.join(dir, 'xdg', 'powershell', 'Modules'))
    const noHyperV = path.join(dir, 'xdg-nohv', 'powershell')
    await mkdir(path.join(noHyperV, 'Modules'), { recursive: true })
    for (const m of ['CimCmdlets', 'WindowsPaths']) await symlink(path.join(HERE, 'modules', m), path.join(noHyperV, 'Modules', m))
    const shellFile = path.join(dir, 'shell')
    const switches: ShellSwitches = { defaultShell: 'cmd', pwsh: true, hypervModule: true, ...options.shell }
    const writeShell = () => writeFileSync(shellFile, `${switches.defaultShell} ${switches.pwsh ? 1 : 0} ${switches.hypervModule ? 1 : 0}\n`)
    writeShell()
    const env = {
      LB_HVPWSH_PWSH: pwsh,
      LB_HVPWSH_SOCKET: bridge.socketPath,
      LB_HVPWSH_SFTP: sftp.socketPath,
      LB_HVPWSH_NODE: process.execPath,
      LB_HVPWSH_TYPES: types,
      LB_HVPWSH_MODULES: path.join(HERE, 'modules'),
      LB_HVPWSH_XDG: path.join(dir, 'xdg'),
      LB_HVPWSH_MODULES_NOHV: path.join(noHyperV, 'Modules'),
      LB_HVPWSH_XDG_NOHV: path.join(dir, 'xdg-nohv'),
      LB_HVPWSH_BIN: path.join(HERE, 'lib', 'bin'),
      LB_HVPWSH_SHELL_FILE: shellFile,
      LB_HVPWSH_CMDLINE: path.join(HERE, 'lib', 'cmdline.py'),
      LB_HVPWSH_PYTHON: findPython(),
      COMPUTERNAME: host.computerName,
      ...(process.env.DOTNET_ROOT !== undefined ? { DOTNET_ROOT: process.env.DOTNET_ROOT } : {}),
    }
    const winshell = path.join(HERE, 'lib', 'winshell.sh')
    const poolEnv: Record<string, string> = cold ? {} : { LB_HVPWSH_POOL: path.join(dir, 'pool.sock'), LB_HVPWSH_RELAY: path.join(HERE, 'lib', 'relay.py') }
    ssh = await startSshHost({
      hostname: host.computerName.toLowerCase(),
      adminUser: ADMIN,
      ...(options.password !== undefined ? { password: options.password } : {}),
      extraConfig: [`SetEnv ${Object.entries({ ...env, ...poolEnv }).map(([k, v]) => setEnvWord(k, v)).join(' ')}`, `ForceCommand ${shQuote(winshell)}`],
    })
    const started = ssh
    if (!cold) {
      // Workers start as a session's pwsh would: winshell.sh in sshd's network, hostname and mount namespaces, with
      // the environment sshd gives a session (its default PATH, root's home, SetEnv) and the variant's module folders.
      pool = await startPwshPool({
        socketPath: path.join(dir, 'pool.sock'),
        command: (variant) => ({
          file: 'nsenter',
          // Entering the mount namespace moves the working folder to its root; sshd starts sessions in the home folder.
          args: ['--target', String(started.pid() ?? 0), '--net', '--uts', '--mount', '--', '/bin/sh', '-c', 'cd "$HOME" && exec /bin/sh "$0"', winshell],
          cwd: homedir(),
          env: {
            ...env,
            ...poolEnv,
            LB_HVPWSH_SHELL_FILE: '',
            ...(variant === 'nohyperv' ? { LB_HVPWSH_MODULES: env.LB_HVPWSH_MODULES_NOHV, LB_HVPWSH_XDG: env.LB_HVPWSH_XDG_NOHV } : {}),
            HOME: homedir(),
            USER: 'root',
            LOGNAME: 'root',
            SHELL: '/bin/sh',
            PATH: '/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin',
            SSH_ORIGINAL_COMMAND: 'pwsh -NoLogo -NoProfile',
          },
        }),
      })
    }
    const warm = pool
    const model = host
    const opened = bridge
    const served = sftp
    const connection = (): AdapterOptions => ({ endpoint: { kind: 'hyperv', address: started.address, port: started.port, user: ADMIN }, secret: { type: 'key', privateKey: started.clientPrivateKey }, pinnedFingerprint: started.fingerprint, connectTimeoutMs: 20_000 })
    return {
      address: started.address,
      port: started.port,
      user: ADMIN,
      password: started.password,
      privateKeyPath: started.clientKeyPath,
      dataDir,
      get shell() {
        return { ...switches }
      },
      setShell(change) {
        Object.assign(switches, change)
        writeShell()
        warm?.prepare(switches.hypervModule ? '' : 'nohyperv')
      },
      privateKey: started.clientPrivateKey,
      fingerprint: started.fingerprint,
      host: model,
      bridge: opened,
      ssh: started,
      pool: warm,
      async addVm(name, o = {}) {
        return await model.addVm({ name, disks: o.disks ?? [knownContent(name, size)], ...(o.state !== undefined ? { state: o.state } : {}) })
      },
      vm(name) {
        const vm = model.vmByName(name)
        if (!vm) throw new Error(`no VM ${name}`)
        return vm
      },
      newAdapter(extra = {}) {
        const adapter = new HyperVAdapter(connection(), extra)
        adapters.push(adapter)
        return adapter
      },
      newContext(extra = {}) {
        const holder = new SshConnectionHolder(connection())
        holders.push(holder)
        return { runner: sshRunner((s) => holder.get(s), () => 'powershell.exe'), connection: (s) => holder.get(s), executable: () => Promise.resolve('powershell.exe'), ...extra }
      },
      async stop() {
        for (const a of adapters) await a.close().catch(() => undefined)
        for (const h of holders) await h.close().catch(() => undefined)
        await warm?.close()
        await started.stop()
        await served.close()
        await opened.close()
        await rm(dir, { recursive: true, force: true })
      },
    }
  } catch (err) {
    await pool?.close().catch(() => undefined)
    await ssh?.stop().catch(() => undefined)
    await sftp?.close().catch(() => undefined)
    await bridge?.close().catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}
