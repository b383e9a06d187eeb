/**
 * Cleanup on a pool meets passing refusals (OTHER_OPERATION_IN_PROGRESS, VDI_IN_USE while a transfer's disks are
 * still being detached, a dropped connection): an undo that runs at the end of a flow that went well is tried a few
 * times before it is reported as left behind.
 */
export function persistently(undo: (signal: AbortSignal) => Promise<unknown>): (signal: AbortSignal) => Promise<void> {
  return async (signal) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await undo(signal)
        return
      } catch (err) {
        if (attempt >= 3 || signal.aborted) throw err
        await new Promise((resolve) => setTimeout(resolve, 250 * attempt))
      }
    }
  }
}
