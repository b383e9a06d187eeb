import { XapiSim, type XapiSimOptions } from '../../../test-hosts/xapi-sim/sim'
import type { BackupDisk, BackupOptions, BackupSession } from '../../host-adapter'
import { XenServerAdapter } from '../xenserver-adapter'

export const MiB = 1024 * 1024

/** The XAPI version the adapter tests' pools play: the newest, or LIFEBOAT_XAPI_VERSION (e.g. 1.249.0, XCP-ng 8.2 LTS). */
export const playedVersion = process.env.LIFEBOAT_XAPI_VERSION

/** A pool whose transfers' dom0 VBDs linger briefly (a real pool: 1–5 s), so tests stay quick but meet them. */
export async function startSim(options: XapiSimOptions = {}): Promise<XapiSim> {
  return await XapiSim.start({ diskSize: 8 * MiB, dom0VbdHold: { minMs: 50, maxMs: 250 }, ...(playedVersion ? { xapiVersion: playedVersion } : {}), ...options })
}

export function adapterFor(sim: XapiSim, overrides: { address?: string; fingerprint?: string | null; user?: string; password?: string } = {}): XenServerAdapter {
  const fingerprint = overrides.fingerprint === null ? undefined : (overrides.fingerprint ?? sim.fingerprint)
  return new XenServerAdapter({
    endpoint: { kind: 'xenserver', address: overrides.address ?? '127.0.0.1', port: sim.port, user: overrides.user ?? 'root' },
    secret: { type: 'password', password: overrides.password ?? sim.password },
    ...(fingerprint !== undefined ? { pinnedFingerprint: fingerprint } : {}),
    connectTimeoutMs: 5000,
  })
}

export const signal = (ms = 60_000): AbortSignal => AbortSignal.timeout(ms)

export function backupOptions(overrides: Partial<BackupOptions> = {}): BackupOptions & { logs: string[]; phases: string[] } {
  const logs: string[] = []
  const phases: string[] = []
  return {
    mode: 'hot',
    quiesce: false,
    shutdownTimeoutMs: 5000,
    forceOffAfterTimeout: false,
    jobId: 'job-test',
    log: (level, message) => logs.push(`${level}: ${message}`),
    phase: (phase, detail) => phases.push(`${phase}${detail !== undefined ? ` ${detail}` : ''}`),
    ...overrides,
    logs,
    phases,
  }
}

/**
 * Reads a backup disk the way the engine does (the whole stream of a raw file, or the changed ranges of a guest
 * disk laid over the previous content) and returns the disk's bytes.
 */
export async function readDisk(disk: BackupDisk, previous?: Buffer): Promise<Buffer> {
  const r = disk.readout
  if (r.kind === 'file') {
    const parts: Buffer[] = []
    for await (const chunk of r.file.stream(0, r.file.size)) parts.push(chunk)
    return Buffer.concat(parts)
  }
  if (r.changedRanges === undefined) return await r.disk.read(0, r.disk.size)
  if (previous === undefined) throw new Error('an incremental readout needs the previous content')
  const out = Buffer.from(previous)
  for (const range of r.changedRanges) (await r.disk.read(range.offset, range.length)).copy(out, range.offset)
  return out
}

export async function readAll(session: BackupSession, previous?: Map<string, Buffer>): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>()
  for (const d of session.disks) out.set(d.name, await readDisk(d, previous?.get(d.name)))
  return out
}
