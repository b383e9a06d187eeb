import { performance } from 'node:perf_hooks'

/**
 * Long loops over cached metadata never reach the event loop on their own: every `await` resolves from a cache as a
 * microtask, so timers, I/O and SIGTERM handlers starve. A pacer, called once per item, hands the loop back with a
 * macrotask every `everyItems` items or `everyMs` milliseconds, whichever comes first.
 */
export type Pacer = () => Promise<void>

export function createPacer(options: { everyItems?: number; everyMs?: number } = {}): Pacer {
  const everyItems = options.everyItems ?? 256
  const everyMs = options.everyMs ?? 20
  let items = 0
  let last = performance.now()
  return async () => {
    if (++items < everyItems && performance.now() - last < everyMs) return
    items = 0
    await new Promise<void>((resolve) => setImmediate(resolve))
    last = performance.now()
  }
}
