/**
 * The one contract every host family implements. The engine talks only to this; adapters never import the engine.
 * Everything returned is plain, serialisable data. Optional parts are capabilities: a host that cannot do
 * something simply lacks that part.
 */
import type { Duplex } from 'node:stream'
import type { BlockSource } from './block-source'

export type { BlockSource, Extent } from './block-source'

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
  /** Host-specific facts for the VM panel, in plain words ("Generation" → "2", "Checkpoint type" → "Production"). */
  readonly facts?: readonly { readonly label: string; readonly value: string }[]
}

export interface PhysicalHost {
  readonly id: string
  readonly name: string
}

export interface Inventory {
  readonly hostname: string
  readonly hosts: readonly PhysicalHost[]
  readonly vms: readonly Vm[]
  /** Where VM disks can live and how full it is (volumes, storage repositories, volume groups), when the host says. */
  readonly storage?: readonly { readonly id: string; readonly name: string; readonly sizeBytes?: number; readonly freeBytes?: number }[]
}

export type InventoryEvent =
  | { readonly type: 'vm-changed'; readonly vm: Vm }
  | { readonly type: 'vm-removed'; readonly vmId: string }
  | { readonly type: 'resync'; readonly inventory: Inventory }

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
  /** With quiesce: fail instead of falling back to a crash-consistent snapshot when the guest cannot be quiesced. */
  readonly quiesceRequired?: boolean
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
  /** Read only changed blocks when the host can tell (default true); false forces a full read. */
  readonly incremental?: boolean
  /**
   * Copy-on-write snapshots with a fixed size (LVM): how much change the snapshot may absorb while it is read, as a
   * share of the volume (percent) and/or a byte count; the larger wins. An overflow fails the backup loudly.
   */
  readonly changeBudget?: { readonly percent?: number; readonly bytes?: number }
}

/** How the engine gets a disk's bytes: a host file in some image format, or already-decoded guest bytes. */
export type DiskReadout =
  | {
      readonly kind: 'file'
      readonly file: RemoteFile
      readonly format: 'raw' | 'qcow2' | 'vhd' | 'vhdx'
      /** Opens a backing/parent file of a differencing image (paths as the image names them). */
      readonly openRelated: (path: string, signal?: AbortSignal) => Promise<RemoteFile>
      /** Only these guest ranges changed since `previous` (host change tracking, e.g. Hyper-V RCT); image formats only. */
      readonly changedRanges?: readonly { readonly offset: number; readonly length: number }[]
      /** Raw files only: asks the host which ranges hold data, so that holes never cross the wire. */
      readonly allocation?: (signal?: AbortSignal) => Promise<HostAllocation>
    }
  | {
      readonly kind: 'guest'
      /** Guest-visible bytes the adapter already decoded (e.g. an NBD export of a libvirt backup job). */
      readonly disk: BlockSource
      /** Only these ranges changed since `previous`; everything else equals the previous restore point. */
      readonly changedRanges?: readonly { readonly offset: number; readonly length: number }[]
    }

/**
 * What a host says about where a raw file's data is. `known: false` says why it could not tell (the tool is
 * missing, its answer was not believable); the file is then read whole.
 */
export type HostAllocation =
  | {
      readonly known: true
      /** Ascending, non-overlapping, inside the file; everything else reads as zeros. */
      readonly dataRanges: readonly { readonly offset: number; readonly length: number }[]
      /**
       * The bytes of `ranges` (ascending, non-overlapping, at most 1024 of them), concatenated, as one stream
       * that fails loudly if the host sends fewer or more.
       */
      stream(ranges: readonly { readonly offset: number; readonly length: number }[], signal?: AbortSignal): AsyncIterable<Uint8Array>
    }
  | { readonly known: false; readonly reason: string }

export interface BackupDisk {
  readonly id: string
  readonly name: string
  readonly sizeBytes: number
  readonly readout: DiskReadout
  /** Plain facts kept with the disk in the restore point (format, device, where it lived). */
  readonly meta?: JsonValue
  /**
   * Why this disk is read whole although a previous restore point exists (change tracking lost in a crash, a
   * chain broken), in plain words; the session's fullReason covers all disks at once.
   */
  readonly fullReason?: string
}

/** How the backup ended, so finish() keeps what a written restore point refers to and drops the rest. */
export interface BackupOutcome {
  /** True once the restore point is safely written (its incremental token is then in use). */
  readonly committed: boolean
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
  finish(signal: AbortSignal, outcome?: BackupOutcome): Promise<{ readonly leftBehind: readonly string[] }>
}

export interface BackupCapability {
  modes(vmId: string, signal: AbortSignal): Promise<readonly ModeSupport[]>
  begin(vmId: string, options: BackupOptions, signal: AbortSignal): Promise<BackupSession>
}

export interface VmSnapshotDetail extends VmSnapshot {
  /** What the admin typed when creating it. */
  readonly label?: string
  readonly kind: 'internal' | 'external'
  /** The VM's state captured with the snapshot ('running' when memory was saved too). */
  readonly vmState?: string
  readonly current?: boolean
  /** When Lifeboat may discard it by itself (ISO time; "snapshot before patching" with an expiry). */
  readonly expiresAt?: string
  /** Things the admin should know, found when it was made (a long disk chain, a nearly full storage repository). */
  readonly warnings?: readonly string[]
}

export interface SnapshotCapability {
  list(vmId: string, signal: AbortSignal): Promise<readonly VmSnapshotDetail[]>
  /** A named snapshot tagged as Lifeboat's ("snapshot before patching"); with memory when the host can. */
  create(vmId: string, options: { readonly label: string; readonly quiesce?: boolean; readonly expiresAt?: string }, signal: AbortSignal): Promise<VmSnapshotDetail>
  /** Returns the VM to the snapshot; `start` decides whether it runs afterwards (default: as it was captured). */
  revert(vmId: string, snapshotId: string, options: { readonly start?: boolean }, signal: AbortSignal): Promise<void>
  remove(vmId: string, snapshotId: string, signal: AbortSignal): Promise<void>
  /**
   * A snapshot's disks as they are on the host, read in place without changing anything (for browsing a live
   * snapshot). The caller closes the readouts' files.
   */
  openDisks?(vmId: string, snapshotId: string, signal: AbortSignal): Promise<readonly BackupDisk[]>
}

/** A piece of an image file being written: bytes, or a run of zeros the writer may leave as a hole. */
export type ImagePiece = { readonly kind: 'data'; readonly data: Buffer } | { readonly kind: 'zeros'; readonly length: number }

/** A disk to write during a restore: guest-visible bytes, read at random offsets (a restore point's disk). */
export interface RestoreDiskInput {
  readonly name: string
  readonly size: number
  readonly source: BlockSource
  readonly meta?: JsonValue
  /**
   * The disk encoded as an image file in `format`, pieces in file order — for hosts that keep disks as image files
   * they cannot convert themselves (Hyper-V needs VHDX or VHD). Absent when the engine cannot encode this disk.
   */
  readonly encode?: (format: 'vhdx' | 'vhd', signal?: AbortSignal) => AsyncIterable<ImagePiece>
}

export interface RestoreRequest {
  /** The VM configuration recorded at backup time (BackupSession.vmConfig). */
  readonly vmConfig: JsonValue
  readonly disks: readonly RestoreDiskInput[]
  /** Name of the new VM; in place: the VM to overwrite (by id or name). */
  readonly name: string
  /** Overwrite the existing VM's disks instead of creating a new VM. Only with the VM stopped. */
  readonly inPlace: boolean
  /** The engine's job: what the restore leaves on the host carries its id, so the leftovers check can tell whose it is. */
  readonly jobId?: string
  readonly start: boolean
  /**
   * Folder on the host for new disk files; default: beside the original disks, else the host's image folder.
   * For XenServer/XCP-ng: the storage repository (uuid or name label); default the original SR, else the pool's default SR.
   */
  readonly storageDir?: string
  readonly log: (level: 'info' | 'warn' | 'error', message: string) => void
  readonly phase: (phase: string, detail?: string) => void
  readonly progress: (bytesDone: number, bytesTotal: number, detail?: string) => void
}

/** One disk of a restore point written as a new disk and attached to an existing VM. */
export interface DiskRestoreRequest {
  /** The VM to attach it to (id or unique name). */
  readonly vm: string
  readonly disk: RestoreDiskInput
  /** Name of the new disk; default the restored disk's name with a date. */
  readonly name?: string
  /** Where the new disk goes (a folder, or an SR for XenServer); default beside the VM's first disk. */
  readonly storageDir?: string
  readonly log: (level: 'info' | 'warn' | 'error', message: string) => void
  readonly phase: (phase: string, detail?: string) => void
  readonly progress: (bytesDone: number, bytesTotal: number, detail?: string) => void
}

export interface DiskRestoreResult {
  readonly vmId: string
  readonly disk: { readonly name: string; readonly path: string; readonly format: string }
  /** The device position it got on the VM. */
  readonly device: string
  /** True when it was hot-plugged into the running VM (otherwise it appears at the next start). */
  readonly plugged: boolean
  readonly leftBehind: readonly string[]
}

export interface RestoreResult {
  readonly vmId: string
  readonly name: string
  readonly disks: readonly { readonly name: string; readonly path: string; readonly format: string }[]
  readonly started: boolean
  readonly leftBehind: readonly string[]
}

export interface RestoreCapability {
  restoreVm(request: RestoreRequest, signal: AbortSignal): Promise<RestoreResult>
  /** Writes one disk as a new disk and attaches it to an existing VM. */
  restoreDisk?(request: DiskRestoreRequest, signal: AbortSignal): Promise<DiskRestoreResult>
}

/**
 * The host's own whole-VM archive format (XVA for XenServer/XCP-ng): export a VM (or snapshot) to a file and import
 * one as a new VM. Lifeboat only moves the bytes; the host writes and reads the format.
 */
export interface VmArchiveCapability {
  readonly format: 'xva' | 'ova'
  /** Streams the archive of a VM (or snapshot) that is not running into `sink`. */
  export(
    vmId: string,
    sink: (data: AsyncIterable<Buffer>) => Promise<void>,
    options: { readonly progress?: (bytesDone: number, bytesTotal?: number) => void },
    signal: AbortSignal,
  ): Promise<{ readonly bytes: number; readonly leftBehind?: readonly string[] }>
  /** Creates a new VM from an archive of `size` bytes (`open` may be called again if the host redirects). */
  import(
    source: { readonly size: number; readonly open: () => AsyncIterable<Uint8Array> },
    options: { readonly storage?: string; readonly start?: boolean; readonly progress?: (bytesDone: number, bytesTotal?: number) => void },
    signal: AbortSignal,
  ): Promise<{ readonly vmId: string; readonly name: string; readonly started: boolean; readonly leftBehind?: readonly string[] }>
}

/**
 * A health check: the restore point's disks brought up as a temporary VM with no network, booted, and asked for proof
 * of life within a timeout; the VM and everything it created are removed afterwards on every path. Host-neutral: each
 * family proves life its own way (KVM: the QEMU guest agent; XenServer: guest metrics; Hyper-V: the heartbeat).
 */
export interface BootCheckRequest {
  /** The job's id: the temporary VM and its files carry it (leftovers after a crash are found by it). */
  readonly jobId: string
  readonly vmConfig: JsonValue
  readonly disks: readonly RestoreDiskInput[]
  /** How long the guest has, from power-on, to prove it is alive (and to run the command). */
  readonly timeoutMs: number
  /** A shell command line run in the guest once it answers (e.g. `systemctl is-system-running`); must exit 0. */
  readonly command?: string
  readonly log: (level: 'info' | 'warn' | 'error', message: string) => void
  /** 'restore' (writing the disks), 'boot' (powered on, waiting), 'proof' (it answered; command, screenshot). */
  readonly phase: (phase: 'restore' | 'boot' | 'proof', detail?: string) => void
  readonly progress: (bytesDone: number, bytesTotal: number, detail?: string) => void
}

export interface BootCheckResult {
  readonly booted: boolean
  /** In plain words: "the guest agent answered after 14 s" / "no answer from the guest agent within 10 min". */
  readonly reason: string
  /** Milliseconds spent writing the disks, from power-on to the first answer (or the verdict), and proving. */
  readonly timings: { readonly restoreMs: number; readonly bootMs: number; readonly proofMs: number }
  /**
   * The console as the check ended, when the host could take it; `format` says what the bytes are (KVM: PNG, or PPM
   * when it could not be converted; Hyper-V: PNG; XenServer: the JPEG xapi's /vncsnapshot answers).
   */
  readonly screenshot?: { readonly format: 'png' | 'ppm' | 'jpeg'; readonly data: Uint8Array }
  readonly command?: { readonly commandLine: string; readonly exitCode: number; readonly output: string }
  readonly leftBehind: readonly string[]
}

export interface HealthCheckCapability {
  bootCheck(request: BootCheckRequest, signal: AbortSignal): Promise<BootCheckResult>
}

/**
 * Instant recovery: a VM defined on the host whose disks are a restore point served by Lifeboat (NBD through the
 * connection) under a writable overlay on the host's storage. It needs Lifeboat until it is made permanent (its disks
 * copied to host storage while it runs) or discarded (nothing left on the host).
 */
export interface InstantRunDisk extends RestoreDiskInput {
  /** Called for every connection the hypervisor opens to this disk: serve NBD on it until it closes. */
  readonly serve: (stream: Duplex) => void
}

export interface InstantRunRequest {
  /** The job's id: the host's lock and the sockets carry it, the VM's metadata records it. */
  readonly runId: string
  readonly pointId: string
  readonly vmConfig: JsonValue
  readonly disks: readonly InstantRunDisk[]
  readonly name: string
  /** 'none': every network interface is left out; 'original': the recorded interfaces, with new MAC addresses. */
  readonly network: 'none' | 'original'
  readonly log: (level: 'info' | 'warn' | 'error', message: string) => void
  readonly phase: (phase: string, detail?: string) => void
}

/** A VM Lifeboat runs (or ran) from a restore point, as the host's own records (domain metadata) say. */
export interface InstantRunInfo {
  readonly name: string
  readonly vmId: string
  readonly runId: string
  readonly pointId: string
  /** The hypervisor's word: running, paused, shut off… */
  readonly state: string
  /** Its disks were copied to host storage: it no longer needs Lifeboat. */
  readonly permanent: boolean
  /** A Lifeboat process is serving its disks right now (the run's lock on the host is held). */
  readonly served: boolean
  /** Paused by an I/O error (a read of the backup found nobody serving): served again, it must be resumed. */
  readonly stalled: boolean
  readonly disks: readonly { readonly target: string; readonly overlay: string }[]
}

export interface InstantRunSession {
  readonly info: InstantRunInfo
  /** Stops serving (the VM pauses on its next read of the backup unless it was made permanent); never throws. */
  stopServing(): Promise<string[]>
  /**
   * Calls `listener` when the connection that carries the disks' sockets is lost while it serves (not when serving
   * stops): nobody serves the VM until serveAgain succeeds, and it pauses on its next read of the backup. Returns a
   * function that removes the listener.
   */
  onLost(listener: (reason: string) => void): () => void
  /**
   * After a lost connection: serves the same sockets again on a new one (the run's lock taken again, stale sockets
   * replaced) and resumes the VM if it paused on an I/O error meanwhile. One try, bounded by `signal`. `gone` when the
   * host answers that the VM is no longer this run (discarded meanwhile, by another Lifeboat or virsh): nothing is
   * served again for it, and the caller stops serving.
   */
  serveAgain(signal: AbortSignal): Promise<{ readonly gone: false; readonly resumed: boolean } | { readonly gone: true }>
}

export interface InstantRunCapability {
  start(request: InstantRunRequest, signal: AbortSignal): Promise<InstantRunSession>
  /** Serves a run whose server is gone again (same sockets) and resumes the VM if it paused. */
  resume(name: string, disks: readonly InstantRunDisk[], signal: AbortSignal): Promise<InstantRunSession>
  list(signal: AbortSignal): Promise<readonly InstantRunInfo[]>
  /** Resumes a run paused by an I/O error (its disks are served again); QEMU retries the failed request. */
  unstall(name: string, signal: AbortSignal): Promise<void>
  /** Copies every disk's backup data into its overlay while the VM runs, then cuts it loose from Lifeboat. */
  makePermanent(name: string, progress: (bytesDone: number, bytesTotal: number, detail: string) => void, signal: AbortSignal): Promise<InstantRunInfo>
  /** Turns the VM off and removes its definition, overlays, sockets and log. */
  discard(name: string, signal: AbortSignal): Promise<{ readonly leftBehind: readonly string[] }>
}

/** Something a crashed or killed Lifeboat job left on a host (snapshot, overlay, checkpoint, block job, socket). */
export interface Leftover {
  readonly id: string
  readonly kind: 'snapshot' | 'overlay' | 'checkpoint' | 'block-job' | 'backup-job' | 'lv-snapshot' | 'subvolume' | 'file' | 'vm'
  readonly description: string
  readonly vmId?: string
  readonly vmName?: string
  readonly jobId?: string
  /** True when cleaning cannot lose anything (no running Lifeboat job owns it); such leftovers are cleaned on connect. */
  readonly safeToClean: boolean
}

export interface ReconcileCapability {
  find(signal: AbortSignal): Promise<readonly Leftover[]>
  clean(ids: readonly string[], signal: AbortSignal): Promise<{ readonly cleaned: readonly string[]; readonly failed: readonly { readonly id: string; readonly reason: string }[] }>
}

export interface HookRun {
  /** The admin's command line, run by the host's shell (it is the admin's own script, not data). */
  readonly command: string
  readonly phase: 'pre' | 'post'
  readonly vmId: string
  readonly vmName: string
  readonly jobId: string
  readonly mode: BackupMode
  /** 'succeeded' | 'failed' | 'cancelled' for post hooks. */
  readonly outcome?: string
  readonly timeoutMs?: number
}

export interface HooksCapability {
  run(hook: HookRun, signal: AbortSignal): Promise<{ readonly exitCode: number | null; readonly output: string }>
}

/**
 * A VM the admin describes by hand (no hypervisor API to ask): its disks — logical volumes, files on btrfs, plain
 * image files — and the commands that start, stop, suspend and resume it (e.g. `xl shutdown -w web01`).
 */
export interface ManualVmSpec {
  readonly name: string
  readonly disks: readonly { readonly name: string; readonly path: string }[]
  readonly commands?: {
    readonly start?: string
    readonly stop?: string
    readonly suspend?: string
    readonly resume?: string
    /** Exit status 0 means running. */
    readonly status?: string
  }
}

export interface ManualVmCapability {
  list(signal: AbortSignal): Promise<readonly (ManualVmSpec & { readonly id: string })[]>
  register(spec: ManualVmSpec, signal: AbortSignal): Promise<{ readonly id: string }>
  unregister(idOrName: string, signal: AbortSignal): Promise<void>
}

/** Putting a file into a running guest through the hypervisor's guest channel (Hyper-V Guest Service Interface). */
export interface GuestFilesCapability {
  copyIn(vmId: string, file: { readonly guestPath: string; readonly size: number; readonly data: AsyncIterable<Buffer>; readonly overwrite: boolean }, signal: AbortSignal): Promise<void>
}

export interface HostAdapter extends AsyncDisposable {
  readonly kind: HostKind
  readonly manualVms?: ManualVmCapability
  /** Opens (or reuses) the verified, authenticated connection and returns who the host is. */
  connect(signal: AbortSignal): Promise<HostIdentity>
  inventory(signal: AbortSignal): Promise<Inventory>
  watch?(signal: AbortSignal): AsyncIterable<InventoryEvent>
  readonly backup?: BackupCapability
  readonly snapshots?: SnapshotCapability
  readonly restore?: RestoreCapability
  readonly archive?: VmArchiveCapability
  readonly reconcile?: ReconcileCapability
  readonly hooks?: HooksCapability
  readonly guestFiles?: GuestFilesCapability
  readonly healthCheck?: HealthCheckCapability
  readonly instantRun?: InstantRunCapability
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

/**
 * Throws AdapterError CANCELLED if the signal fired; call at every step of a long operation. For adapters (the
 * engine maps the code to the contract's CANCELLED); repository code uses `throwIfCancelled`
 * (engine/repository/errors.ts), the rest of the engine `signal?.throwIfAborted()`. `isAbortError`
 * (adapters/abort.ts) recognises what each of them throws.
 */
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
