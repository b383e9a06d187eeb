/**
 * Test support: the Hyper-V test host (real sshd and pwsh, test-hosts/hyperv-pwsh) with an adapter connected to it
 * (pinned host key, key login), closed together.
 */
import { HyperVAdapter, type HyperVAdapterOptions } from '../../adapters/hyperv/hyperv-adapter'
import type { BackupOptions, HostAdapter } from '../../adapters/host-adapter'
import type { SimVm } from './hyperv/host'
import { startHyperVSim, type HyperVSim, type HyperVSimOptions } from '../hyperv-pwsh/sim'

export { canRunHyperVSim } from '../hyperv-pwsh/sim'

export interface SimAndAdapter {
  readonly sim: HyperVSim
  readonly adapter: HyperVAdapter
  /** A fresh adapter on its own connection (a second Lifeboat, or the same one after a restart). */
  newAdapter(extra?: HyperVAdapterOptions): HyperVAdapter
  vm(name: string): SimVm
  close(): Promise<void>
}

export async function simWithAdapter(options: HyperVSimOptions & { adapter?: HyperVAdapterOptions } = {}): Promise<SimAndAdapter> {
  const sim = await startHyperVSim({ diskSizeMiB: 8, ...options })
  const made: HostAdapter[] = []
  const newAdapter = (extra: HyperVAdapterOptions = options.adapter ?? {}) => {
    const a = new HyperVAdapter(
      { endpoint: { kind: 'hyperv', address: sim.address, port: sim.port, user: sim.user }, secret: { type: 'key', privateKey: sim.privateKey }, pinnedFingerprint: sim.fingerprint, connectTimeoutMs: 20_000 },
      extra,
    )
    made.push(a)
    return a
  }
  const adapter = newAdapter()
  return {
    sim,
    adapter,
    newAdapter,
    vm(name) {
      const vm = sim.host.vmByName(name)
      if (!vm) throw new Error(`no VM ${name}`)
      return vm
    },
    async close() {
      for (const a of made) await a.close().catch(() => undefined)
      await sim.close()
    },
  }
}

export function backupOptions(overrides: Partial<BackupOptions> & Pick<BackupOptions, 'mode' | 'jobId'>): BackupOptions & { readonly logged: string[] } {
  const logged: string[] = []
  return {
    quiesce: true,
    shutdownTimeoutMs: 10_000,
    forceOffAfterTimeout: false,
    log: (level, message) => logged.push(`${level}: ${message}`),
    phase: () => undefined,
    logged,
    ...overrides,
  }
}

export async function readAll(file: { size: number; readRange(o: number, l: number): Promise<Buffer> }): Promise<Buffer> {
  return await file.readRange(0, file.size)
}
