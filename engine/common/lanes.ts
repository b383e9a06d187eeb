/**
 * Runs `run(0 … count-1)` with at most `lanes` at once, in index order. The first failure stops the rest: no new
 * index starts, and those in flight are told through the signal `run` gets (the caller's, combined with our own);
 * this returns only once every lane has ended — nothing keeps writing to a target after the operation said it
 * failed — and rethrows that first failure. A plain `Promise.all` of lanes rejects at the first failure and leaves the
 * other lanes running unobserved, still taking new work.
 */
export async function runLanes(count: number, lanes: number, run: (index: number, signal: AbortSignal) => Promise<void>, signal?: AbortSignal): Promise<void> {
  const stop = new AbortController()
  const laneSignal = signal === undefined ? stop.signal : AbortSignal.any([signal, stop.signal])
  let next = 0
  let failure: { error: unknown } | undefined
  const lane = async (): Promise<void> => {
    while (failure === undefined && next < count) {
      const index = next++
      try {
        await run(index, laneSignal)
      } catch (error) {
        failure ??= { error }
        stop.abort(failure.error)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(lanes, count)) }, lane))
  if (failure !== undefined) throw failure.error
}
