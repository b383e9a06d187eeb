/**
 * The Hyper-V test host as tests, journeys and `npm run sim:hyperv` use it: real sshd in a namespace, real pwsh
 * (host.ts), with the handles the ssh2 simulator offered — the model, exec faults and count, shell switches, the
 * model's limits — so a test moves from one to the other by its import alone. Test peer only.
 */
import type { HostOptions, HyperVHost, SimVm } from '../hyperv-sim/hyperv/host'
import { startHyperVPwshHost, type HyperVPwshHost, type ShellSwitches } from './host'
import type { PoolFaults } from './pool'

export { canRunHyperVPwshHost as canRunHyperVSim } from './pwsh'
export { knownContent } from '../hyperv-sim/hyperv/known-content'

export interface HyperVSimOptions {
  /** Folder for drive C: (the model's data); a temp folder (removed on close) when absent. */
  readonly dataDir?: string
  /** Running VMs to create, each with one VHDX of known content (knownContent). */
  readonly vms?: readonly string[]
  readonly diskSizeMiB?: number
  readonly defaultShell?: ShellSwitches['defaultShell']
  readonly pwsh?: boolean
  readonly hypervModule?: boolean
  readonly os?: HostOptions['os']
  readonly computerName?: string
  readonly timing?: HostOptions['timing']
  readonly password?: string
}

export interface HyperVSim {
  readonly address: string
  readonly port: number
  /** Administrator: key or password. */
  readonly user: string
  readonly password: string
  readonly privateKeyPath: string
  readonly privateKey: string
  /** "SHA256:…" of the host key, as ssh-keygen -lf prints it. */
  readonly fingerprint: string
  readonly dataDir: string
  readonly host: HyperVHost
  /** The shell setup, changed between connections (DefaultShell registry value, pwsh installed, Hyper-V module). */
  readonly shell: ShellSwitches
  /** Execs whose session has not ended. */
  readonly running: () => number
  /** Calls that left what the model and its modules implement, and the model's internal errors (tests expect none). */
  readonly limits: string[]
  readonly faults: PoolFaults
  readonly pwshHost: HyperVPwshHost
  addVm(name: string, options?: { disks?: readonly Buffer[]; state?: SimVm['state'] }): Promise<SimVm>
  close(): Promise<void>
}

export async function startHyperVSim(options: HyperVSimOptions = {}): Promise<HyperVSim> {
  const t = await startHyperVPwshHost({
    ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
    ...(options.vms !== undefined ? { vms: options.vms } : {}),
    diskSizeMiB: options.diskSizeMiB ?? 64,
    ...(options.os !== undefined ? { os: options.os } : {}),
    ...(options.computerName !== undefined ? { computerName: options.computerName } : {}),
    ...(options.timing !== undefined ? { timing: options.timing } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
    shell: {
      ...(options.defaultShell !== undefined ? { defaultShell: options.defaultShell } : {}),
      ...(options.pwsh !== undefined ? { pwsh: options.pwsh } : {}),
      ...(options.hypervModule !== undefined ? { hypervModule: options.hypervModule } : {}),
    },
  })
  const pool = t.pool
  if (pool === undefined) {
    await t.stop()
    throw new Error('The Hyper-V test host runs cold (LIFEBOAT_PWSH_COLD=1): exec faults and counts need its pwsh pool.')
  }
  const shell: ShellSwitches = {
    get defaultShell() {
      return t.shell.defaultShell
    },
    set defaultShell(v) {
      t.setShell({ defaultShell: v })
    },
    get pwsh() {
      return t.shell.pwsh
    },
    set pwsh(v) {
      t.setShell({ pwsh: v })
    },
    get hypervModule() {
      return t.shell.hypervModule
    },
    set hypervModule(v) {
      t.setShell({ hypervModule: v })
    },
  }
  return {
    address: t.address,
    port: t.port,
    user: t.user,
    password: t.password,
    privateKeyPath: t.privateKeyPath,
    privateKey: t.privateKey,
    fingerprint: t.fingerprint,
    dataDir: t.dataDir,
    host: t.host,
    shell,
    running: () => pool.running(),
    limits: t.bridge.problems,
    faults: pool.faults,
    pwshHost: t,
    addVm: (name, o) => t.addVm(name, o),
    close: () => t.stop(),
  }
}
