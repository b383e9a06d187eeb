/**
 * The Hyper-V test host on real PowerShell: a real sshd in its own network namespace (test-hosts/ssh-host.ts) whose
 * exec requests are run the way Windows OpenSSH runs them (lib/winshell.sh: cmd.exe's /c, then powershell.exe or
 * pwsh → the real pwsh with the same arguments), with the Hyper-V and CimCmdlets modules of modules/ on its
 * PSModulePath. Their cmdlets reach the simulator's model (test-hosts/hyperv-sim/hyperv) through a unix socket
 * served by this process (bridge.ts), so tests see and steer the VMs as with the ssh2 simulator. C:\ paths in scripts
 * (modules/WindowsPaths, lib/WindowsPaths.cs) and the SFTP subsystem (sftp-socket.ts) reach the same model. Test peer only.
 */
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { AdapterOptions } from '../../adapters/host-adapter'
import type { HyperVContext } from '../../adapters/hyperv/context'
import { HyperVAdapter, type HyperVAdapterOptions } from '../../adapters/hyperv/hyperv-adapter'
import { sshRunner } from '../../adapters/hyperv/ps-runner'
import { SshConnectionHolder } from '../../adapters/ssh/ssh-adapter-base'
import { shQuote } from '../../adapters/ssh/shell-quote'
import { HyperVHost, type HostOptions, type SimVm } from '../hyperv-sim/hyperv/host'
import { knownContent } from '../hyperv-sim/server'
import { startSshHost, type SshTestHost } from '../ssh-host'
import { startModelBridge, type ModelBridge } from './bridge'
import { HERE, canRunHyperVPwshHost, findPwsh, typesAssembly } from './pwsh'
import { startSftpSocket, type SftpSocket } from './sftp-socket'

export interface HyperVPwshHostOptions {
  /** Running VMs to create, each with one VHDX whose guest bytes are knownContent(name). */
  readonly vms?: readonly string[]
  readonly diskSizeMiB?: number
  readonly computerName?: string
  readonly os?: HostOptions['os']
}

export interface HyperVPwshHost {
  readonly address: string
  readonly port: number
  /** The SSH user (the sshd's root; on Windows this would be an administrator). */
  readonly user: string
  readonly privateKey: string
  readonly fingerprint: string
  /** The simulator's model: VMs, checkpoints, disks. */
  readonly host: HyperVHost
  readonly bridge: ModelBridge
  readonly ssh: SshTestHost
  vm(name: string): SimVm
  /** An adapter on its own connection, host key pinned; closed by stop(). */
  newAdapter(extra?: HyperVAdapterOptions): HyperVAdapter
  /** The adapter's script runner and context on a connection of its own (tests of single scripts); closed by stop(). */
  newContext(extra?: { rct?: boolean }): HyperVContext
  stop(): Promise<void>
}

/** sshd_config's SetEnv takes double-quoted words; the paths here are ours, but say so instead of mis-quoting one. */
function setEnvWord(name: string, value: string): string {
  if (/["\\\n]/.test(value)) throw new Error(`The Hyper-V test host cannot pass ${name} through sshd_config: ${value}`)
  return `${name}="${value}"`
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
  try {
    const types = await typesAssembly(pwsh, AbortSignal.timeout(180_000))
    const host = new HyperVHost({ dataDir: path.join(dir, 'data'), computerName: options.computerName ?? 'HV01', ...(options.os !== undefined ? { os: options.os } : {}) })
    const size = (options.diskSizeMiB ?? 8) * 1024 * 1024
    for (const name of options.vms ?? []) await host.addVm({ name, disks: [knownContent(name, size)] })
    bridge = await startModelBridge(host, path.join(dir, 'model.sock'))
    sftp = await startSftpSocket(host, path.join(dir, 'sftp.sock'))
    // pwsh's CurrentUser module folder (first in module lookup, see lib/winshell.sh) is modules/ itself; lib/ beside it,
    // because the modules find lib/ relative to their own (unresolved) path.
    await mkdir(path.join(dir, 'xdg', 'powershell'), { recursive: true })
    await symlink(path.join(HERE, 'modules'), path.join(dir, 'xdg', 'powershell', 'Modules'))
    await symlink(path.join(HERE, 'lib'), path.join(dir, 'xdg', 'powershell', 'lib'))
    const env = {
      LB_HVPWSH_PWSH: pwsh,
      LB_HVPWSH_SOCKET: bridge.socketPath,
      LB_HVPWSH_SFTP: sftp.socketPath,
      LB_HVPWSH_NODE: process.execPath,
      LB_HVPWSH_TYPES: types,
      LB_HVPWSH_MODULES: path.join(HERE, 'modules'),
      LB_HVPWSH_XDG: path.join(dir, 'xdg'),
      COMPUTERNAME: host.computerName,
      ...(process.env.DOTNET_ROOT !== undefined ? { DOTNET_ROOT: process.env.DOTNET_ROOT } : {}),
    }
    ssh = await startSshHost({
      hostname: host.computerName.toLowerCase(),
      extraConfig: [`SetEnv ${Object.entries(env).map(([k, v]) => setEnvWord(k, v)).join(' ')}`, `ForceCommand ${shQuote(path.join(HERE, 'lib', 'winshell.sh'))}`],
    })
    const started = ssh
    const model = host
    const opened = bridge
    const served = sftp
    const connection = (): AdapterOptions => ({ endpoint: { kind: 'hyperv', address: started.address, port: started.port, user: 'root' }, secret: { type: 'key', privateKey: started.clientPrivateKey }, pinnedFingerprint: started.fingerprint, connectTimeoutMs: 20_000 })
    return {
      address: started.address,
      port: started.port,
      user: 'root',
      privateKey: started.clientPrivateKey,
      fingerprint: started.fingerprint,
      host: model,
      bridge: opened,
      ssh: started,
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
        await started.stop()
        await served.close()
        await opened.close()
        await rm(dir, { recursive: true, force: true })
      },
    }
  } catch (err) {
    await ssh?.stop().catch(() => undefined)
    await sftp?.close().catch(() => undefined)
    await bridge?.close().catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}
