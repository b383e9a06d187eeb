/**
 * The one contract every host family implements. The engine talks only to this; adapters never import the engine.
 * Everything returned is plain, serialisable data. Optional parts are capabilities: a host that cannot do
 * something simply lacks that part, and describe() says why, so the UI can show the reason instead of a dead button.
 */

export type HostKind = 'xenserver' | 'hyperv' | 'linux'

export const hostKinds: readonly HostKind[] = ['linux', 'hyperv', 'xenserver']

/** Credentials as the adapter needs them. Never logged, never sent to the renderer. */
export type HostSecret =
  | { readonly type: 'password'; readonly password: string }
  | { readonly type: 'key'; readonly privateKey: string; readonly passphrase?: string }

export interface HostEndpoint {
  readonly kind: HostKind
  readonly address: string
  readonly port: number
  readonly user: string
}

export interface AdapterOptions {
  readonly endpoint: HostEndpoint
  readonly secret: HostSecret
  /**
   * The host key (SSH) or certificate (TLS) fingerprint the admin confirmed. When absent the adapter refuses
   * to authenticate and throws HOST_KEY_UNKNOWN with the presented fingerprint, so nothing secret is ever sent
   * to an unverified peer.
   */
  readonly pinnedFingerprint?: string
  /** Milliseconds allowed for TCP connect + handshake + authentication. */
  readonly connectTimeoutMs?: number
}

/** Who the host says it is, after a verified, authenticated connection. */
export interface HostIdentity {
  readonly hostname: string
  readonly os?: string
  readonly version?: string
  /** The fingerprint that was verified for this connection. */
  readonly fingerprint: string
  readonly fingerprintType: string
}

/**
 * A file or block device on a host, readable at random offsets (browsing, image metadata) and as a fast
 * sequential stream (bulk disk reads). Adapters hand these out; the engine puts the image-format stack on top.
 */
export interface RemoteFile {
  readonly path: string
  readonly size: number
  /** For messages: "web01:/var/lib/libvirt/images/a.qcow2". */
  readonly label: string
  /** Exactly `length` bytes at `offset`, or an error; many calls may be in flight at once. */
  readRange(offset: number, length: number, signal?: AbortSignal): Promise<Buffer>
  /** `length` bytes from `offset` as one stream at full link speed; fails loudly if the host sends fewer. */
  stream(offset: number, length: number, signal?: AbortSignal): AsyncIterable<Buffer>
  close(): Promise<void>
}

export type PowerState = 'running' | 'halted' | 'paused' | 'suspended' | 'unknown'

export interface VmDisk {
  readonly id: string
  readonly name: string
  /** Where the bytes live on the host: a path, an LV, a VDI uuid. */
  readonly location: string
  readonly sizeBytes?: number
  readonly format?: string
}

export interface VmSnapshot {
  readonly id: string
  readonly name: string
  readonly createdAt?: string
  /** True when Lifeboat made it (tagged), so leftovers can be found after a crash. */
  readonly lifeboat: boolean
  readonly purpose?: string
}

export interface Vm {
  readonly id: string
  readonly name: string
  readonly powerState: PowerState
  /** The physical host it runs on, for pools with several hosts. */
  readonly residentOn?: string
  readonly cpus?: number
  readonly memoryBytes?: number
  readonly os?: string
  readonly guestAgent?: boolean
  readonly disks: readonly VmDisk[]
  readonly snapshots: readonly VmSnapshot[]
}

export interface PhysicalHost {
  readonly id: string
  readonly name: string
}

export interface Inventory {
  readonly hostname: string
  readonly hosts: readonly PhysicalHost[]
  readonly vms: readonly Vm[]
}

export type InventoryEvent =
  | { readonly type: 'vm-changed'; readonly vm: Vm }
  | { readonly type: 'vm-removed'; readonly vmId: string }
  | { readonly type: 'resync'; readonly inventory: Inventory }

export interface Capability {
  readonly available: boolean
  /** Why not, in plain words, when unavailable. */
  readonly reason?: string
}

export interface AdapterDescription {
  readonly kind: HostKind
  readonly capabilities: Readonly<Record<'inventory' | 'watch' | 'power' | 'snapshots' | 'backup' | 'disks' | 'restore' | 'hooks', Capability>>
}

/** Plain JSON, for things the adapter records and gets back later (VM config, incremental tokens). */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue }

export type BackupMode = 'cold' | 'warm' | 'hot'
/** offline: the VM was off · app: guest quiesced (agent/VSS) · crash: as if the power was cut */
export type Consistency = 'offline' | 'app' | 'crash'

/** What a mode means for one VM on its host, for the wizard to explain (and to disable with a reason). */
export interface ModeSupport {
  readonly mode: BackupMode
  readonly available: boolean
  readonly reason?: string
  readonly downtime: 'none' | 'pause' | 'shutdown'
  readonly consistency: Consistency
}

export interface BackupOptions {
  readonly mode: BackupMode
  /** Try application consistency (guest agent freeze, VSS); falls back to crash-consistent and says so. */
  readonly quiesce: boolean
  /** Cold: how long to wait for a clean shutdown. */
  readonly shutdownTimeoutMs: number
  /** Cold: force the VM off after the timeout. Only when the admin chose it explicitly. */
  readonly forceOffAfterTimeout: boolean
  /** Tags every snapshot/overlay this backup creates, so leftovers are found after a crash. */
  readonly jobId: string
  /** The previous restore point's incremental token from this adapter, when there is one. */
  readonly previous?: { readonly pointId: string; readonly token: JsonValue }
  readonly log: (level: 'info' | 'warn' | 'error', message: string) => void
  /** Non-byte phases ("shutting down", "creating snapshot") for the job's progress line. */
  readonly phase: (phase: string, detail?: string) => void
}

/**
 * Guest-visible disk bytes the adapter already decoded (e.g. an NBD export of a libvirt backup job). Same
 * shape as the engine's BlockSource, so the engine can ingest it directly.
 */
export interface GuestDisk {
  readonly size: number
  readonly label: string
  read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer>
  extents?(signal?: AbortSignal): AsyncIterable<{ readonly offset: number; readonly length: number; readonly kind: 'data' | 'zero' }>
  close(): Promise<void>
}

/** How the engine gets a disk's bytes: a host file in some image format, or already-decoded guest bytes. */
export type DiskReadout =
  | {
      readonly kind: 'file'
      readonly file: RemoteFile
      readonly format: 'raw' | 'qcow2' | 'vhd' | 'vhdx'
      /** Opens a backing/parent file of a differencing image (paths as the image names them). */
      readonly openRelated: (path: string, signal?: AbortSignal) => Promise<RemoteFile>
    }
  | {
      readonly kind: 'guest'
      readonly disk: GuestDisk
      /** Only these ranges changed since `previous`; everything else equals the previous restore point. */
      readonly changedRanges?: readonly { readonly offset: number; readonly length: number }[]
    }

export interface BackupDisk {
  readonly id: string
  readonly name: string
  readonly sizeBytes: number
  readonly readout: DiskReadout
}

export interface BackupSession {
  readonly consistency: Consistency
  /** The VM's configuration as the host describes it (domain XML, VM record), kept in the restore point. */
  readonly vmConfig: JsonValue
  readonly disks: readonly BackupDisk[]
  /** Saved with the restore point and handed back as `previous` next time. */
  readonly incrementalToken?: JsonValue
  /** Why an incremental became a full read ("checkpoint chain broken: …"), for the job log. */
  readonly fullReason?: string
  /**
   * Undoes what begin() did: resume or restart the VM, merge overlays, remove snapshots. Runs on every path
   * (success, failure, cancel) and must not throw; returns what it could not clean up, in plain words.
   */
  finish(signal: AbortSignal): Promise<{ readonly leftBehind: readonly string[] }>
}

export interface BackupCapability {
  modes(vmId: string, signal: AbortSignal): Promise<readonly ModeSupport[]>
  begin(vmId: string, options: BackupOptions, signal: AbortSignal): Promise<BackupSession>
}

export interface HostAdapter extends AsyncDisposable {
  readonly kind: HostKind
  /** Opens (or reuses) the verified, authenticated connection and returns who the host is. */
  connect(signal: AbortSignal): Promise<HostIdentity>
  inventory(signal: AbortSignal): Promise<Inventory>
  watch?(signal: AbortSignal): AsyncIterable<InventoryEvent>
  readonly backup?: BackupCapability
  describe(): AdapterDescription
  close(): Promise<void>
}

export type AdapterFactory = (options: AdapterOptions) => HostAdapter

export type AdapterErrorCode =
  | 'HOST_UNREACHABLE'
  | 'CONNECTION_TIMEOUT'
  | 'CONNECTION_LOST'
  | 'AUTH_FAILED'
  | 'KEY_INVALID'
  | 'HOST_KEY_UNKNOWN'
  | 'HOST_KEY_MISMATCH'
  | 'TLS_FAILED'
  | 'PERMISSION_DENIED'
  | 'COMMAND_FAILED'
  | 'BAD_RESPONSE'
  | 'NOT_FOUND'
  | 'NOT_SUPPORTED'
  | 'CANCELLED'

export type ErrorParams = Readonly<Record<string, string | number | boolean | null>>

export class AdapterError extends Error {
  override readonly name = 'AdapterError'
  constructor(
    readonly code: AdapterErrorCode,
    message: string,
    readonly params: ErrorParams = {},
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

export function isAdapterError(err: unknown): err is AdapterError {
  return err instanceof AdapterError
}

/** Throws CANCELLED if the signal fired; call at every step of a long operation. */
export function throwIfAborted(signal: AbortSignal | undefined, what = 'The operation'): void {
  if (signal?.aborted) throw new AdapterError('CANCELLED', `${what} was cancelled.`)
}

/** Normalises a fingerprint for comparison: case and ':' separators do not matter for hex; base64 is kept. */
export function normalizeFingerprint(fp: string): string {
  const trimmed = fp.trim()
  const m = /^(SHA256):(.+)$/i.exec(trimmed)
  if (m?.[2] !== undefined) {
    const body = m[2]
    if (/^[0-9a-f]{2}(:[0-9a-f]{2}){31}$/i.test(body)) return `SHA256:${body.replace(/:/g, '').toUpperCase()}`
    return `SHA256:${body.replace(/=+$/, '')}`
  }
  if (/^[0-9a-f]{2}(:[0-9a-f]{2}){31}$/i.test(trimmed) || /^[0-9a-f]{64}$/i.test(trimmed)) {
    return `SHA256:${trimmed.replace(/:/g, '').toUpperCase()}`
  }
  return trimmed
}

export function sameFingerprint(a: string, b: string): boolean {
  return normalizeFingerprint(a) === normalizeFingerprint(b)
}
