import { XapiFault } from './errors'

/** Fault switches a test (or the CLI's admin endpoint) flips on a running simulator. */
export interface Faults {
  /** Every RPC answer is delayed by this many milliseconds. */
  slowMs: number
  /** /export_raw_vdi, /export and NBD connections are cut after this many bytes of disk data (one-shot). */
  dropTransferAfterBytes: number | undefined
  /** Disk data is sent at most this fast (bytes per second), so a test can act in the middle of a transfer. */
  transferBytesPerSecond: number | undefined
  /** The next Async call of this method fails with this error (one-shot per entry). */
  failTask: Map<string, { code: string; params: string[] }>
  /** VM.checkpoint fails for every VM (the guest cannot be suspended for it). */
  checkpointFails: boolean
  /** VMs (by name) whose guest ignores a clean shutdown request: VM.clean_shutdown waits until cancelled. */
  ignoreShutdown: Set<string>
  /** Whether the pool network offers NBD (network.purpose contains "nbd"). */
  nbd: boolean
  /** Host calls so far, counted from 1: every RPC call and every HTTP transfer (`/export_raw_vdi` …) as it arrives. */
  calls: number
  /**
   * The host call with this number (see `calls`) is answered with this XAPI error instead of being run (one-shot):
   * what a pool that refuses, or a connection that breaks, does to one step of a flow.
   */
  failCall: { at: number; code: string; params: string[] } | undefined
  /** Told about each host call after it has run and before its answer is sent (a test cancels a job there). */
  afterCall: ((n: number, what: string) => void) | undefined
  /**
   * The next VDI.list_changed_blocks is refused with this error (one-shot), e.g. one the message declares
   * (VDI_MISSING, SR_NOT_ATTACHED, SR_HAS_NO_PBDS) or the storage manager's SR_BACKEND_FAILURE_460.
   */
  refuseChangedBlocks: { code: string; params: string[] } | undefined
  /** How long a guest created through the API takes from VM.start until its PV drivers report (see guest.ts). */
  guestBootMs: number
  /**
   * How long the dom0 VBD of a transfer (/export_raw_vdi, /import_raw_vdi, an NBD connection) outlives it (a random
   * time in this range, 1–5 s by default; tests make it short): meanwhile VDI.destroy answers VDI_IN_USE.
   */
  dom0VbdHold: { minMs: number; maxMs: number }
  /**
   * The next transfer on this path fails with this XAPI error once it has started (one-shot). /export_raw_vdi has
   * sent its 200 header by then, so the failure arrives as an HTTP 500 response inside the body.
   */
  failTransfer: { path: string; code: string; params: string[] } | undefined
  /** VDI.get_nbd_info lists first an address where no NBD server answers (a host interface unreachable from here). */
  nbdUnreachableFirst: boolean
  /** dom0 has no /usr/bin/vncsnapshot: GET /vncsnapshot fails (HTTP 500) where it would have taken the picture. */
  vncsnapshotMissing: boolean
  /** GET /vncsnapshot answers 200 with these bytes instead of the console's JPEG (a garbled, cut or oversized answer). */
  vncsnapshotAnswer: Buffer | undefined
  /** GET /vncsnapshot takes this long before it answers (a slow vncsnapshot; xapi itself gives up after 30 s). */
  vncsnapshotDelayMs: number
}

export function defaultFaults(): Faults {
  return {
    slowMs: 0,
    dropTransferAfterBytes: undefined,
    transferBytesPerSecond: undefined,
    failTask: new Map(),
    checkpointFails: false,
    ignoreShutdown: new Set(),
    nbd: true,
    calls: 0,
    failCall: undefined,
    afterCall: undefined,
    refuseChangedBlocks: undefined,
    guestBootMs: 1000,
    dom0VbdHold: { minMs: 1000, maxMs: 5000 },
    failTransfer: undefined,
    nbdUnreachableFirst: false,
    vncsnapshotMissing: false,
    vncsnapshotAnswer: undefined,
    vncsnapshotDelayMs: 0,
  }
}

/** Counts a host call and throws the injected error when it is the one to fail (see Faults.failCall). */
export function enterCall(faults: Faults, what: string): number {
  const n = ++faults.calls
  const f = faults.failCall
  if (f !== undefined && f.at === n) {
    faults.failCall = undefined
    throw new XapiFault(f.code, f.params.length > 0 ? f.params : [`injected fault on host call ${n} (${what})`])
  }
  return n
}
