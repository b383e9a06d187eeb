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
  }
}
