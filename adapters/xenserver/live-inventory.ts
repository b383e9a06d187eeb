import { z } from 'zod'
import { AdapterError, type Inventory, type InventoryEvent, type Vm } from '../host-adapter'
import type { XapiClient } from './xapi-client'
import { xapiCode } from './xapi-errors'
import * as R from './xapi-records.generated'
import { emptyState, isGuest, toInventory, toVm, watchedClasses, type PoolState, type WatchedClass } from './pool-state'

const schemas: Record<WatchedClass, z.ZodType> = {
  pool: R.PoolRecord,
  host: R.HostRecord,
  VM: R.VMRecord,
  VBD: R.VBDRecord,
  VDI: R.VDIRecord,
  SR: R.SRRecord,
  PBD: R.PBDRecord,
  SM: R.SMRecord,
  VIF: R.VIFRecord,
  network: R.NetworkRecord,
  VM_guest_metrics: R.VMGuestMetricsRecord,
}
const byLower = new Map<string, WatchedClass>(watchedClasses.map((c) => [c.toLowerCase(), c]))

const EventSchema = z.object({
  class: z.string().max(64),
  operation: z.enum(['add', 'mod', 'del']),
  ref: z.string().max(128),
  snapshot: z.unknown().optional(),
})
const BatchSchema = z.object({ token: z.string().max(256), events: z.array(z.unknown()).max(1_000_000) })

/** How long one event.from waits on the pool before asking again (seconds). */
const WAIT_S = 30
const MAX_BACKOFF_MS = 30_000

/** Applies one event.from batch to the state; records that do not parse are dropped (never trusted). */
export function applyEvents(state: PoolState, events: readonly unknown[]): { dropped: number } {
  let dropped = 0
  for (const raw of events) {
    const e = EventSchema.safeParse(raw)
    if (!e.success) {
      dropped++
      continue
    }
    const cls = byLower.get(e.data.class.toLowerCase())
    if (cls === undefined) continue
    const table = state[cls] as Map<string, unknown>
    if (e.data.operation === 'del') {
      table.delete(e.data.ref)
      continue
    }
    const parsed = schemas[cls].safeParse(e.data.snapshot)
    if (parsed.success) table.set(e.data.ref, parsed.data)
    else {
      table.delete(e.data.ref)
      dropped++
    }
  }
  return { dropped }
}

/** Everything Lifeboat follows, read in one call (event.from with the empty token lists every object). */
export async function loadState(client: XapiClient, signal: AbortSignal): Promise<{ state: PoolState; token: string }> {
  const batch = BatchSchema.safeParse(await client.call('event.from', [[...watchedClasses], '', 0.1], signal))
  if (!batch.success) throw new AdapterError('BAD_RESPONSE', 'The pool answered event.from with something Lifeboat does not understand.')
  const state = emptyState()
  applyEvents(state, batch.data.events)
  return { state, token: batch.data.token }
}

/** Read through a call, so the compiler does not assume it stays what it was before an await. */
const isAborted = (signal: AbortSignal): boolean => signal.aborted

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms)
    function done() {
      clearTimeout(t)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })

/**
 * The pool as Lifeboat sees it, kept current with event.from: one initial read, then only what changed. When the
 * pool says events were lost (EVENTS_LOST), or the session expired, or the connection broke, it reads everything
 * again and says so with a 'resync' event; the admin does nothing.
 */
export class LiveInventory {
  private state: PoolState = emptyState()
  private token = ''
  private lastVms = new Map<string, string>()

  constructor(
    private readonly client: (signal: AbortSignal) => Promise<XapiClient>,
    private readonly onNotice: (message: string) => void = () => undefined,
  ) {}

  current(): Inventory {
    return toInventory(this.state)
  }

  private async resync(signal: AbortSignal): Promise<Inventory> {
    const loaded = await loadState(await this.client(signal), signal)
    this.state = loaded.state
    this.token = loaded.token
    const inventory = toInventory(this.state)
    this.lastVms = new Map(inventory.vms.map((v) => [v.id, JSON.stringify(v)]))
    return inventory
  }

  /** Inventory events until the signal fires: a 'resync' first, then changes as they happen. */
  async *events(signal: AbortSignal): AsyncGenerator<InventoryEvent> {
    let backoff = 500
    let inventory: Inventory | undefined
    while (!signal.aborted) {
      try {
        inventory = await this.resync(signal)
        break
      } catch (err) {
        if (isAborted(signal)) return
        this.onNotice(`Reading the pool failed (${err instanceof Error ? err.message : String(err)}); trying again.`)
        await sleep(backoff, signal)
        backoff = Math.min(MAX_BACKOFF_MS, backoff * 2)
      }
    }
    if (inventory === undefined) return
    yield { type: 'resync', inventory }
    backoff = 500
    while (!signal.aborted) {
      let batch: z.output<typeof BatchSchema>
      try {
        const client = await this.client(signal)
        const parsed = BatchSchema.safeParse(await client.call('event.from', [[...watchedClasses], this.token, WAIT_S], signal))
        if (!parsed.success) throw new AdapterError('BAD_RESPONSE', 'The pool answered event.from with something Lifeboat does not understand.')
        batch = parsed.data
        backoff = 500
      } catch (err) {
        if (isAborted(signal)) return
        const code = xapiCode(err)
        this.onNotice(
          code === 'EVENTS_LOST'
            ? 'The pool dropped events Lifeboat had not read yet; reading everything again.'
            : code === 'SESSION_INVALID'
              ? 'The XAPI session expired; logging in again.'
              : `Following the pool's events failed (${err instanceof Error ? err.message : String(err)}); reconnecting.`,
        )
        if (code !== 'EVENTS_LOST') await sleep(backoff, signal)
        backoff = Math.min(MAX_BACKOFF_MS, backoff * 2)
        try {
          yield { type: 'resync', inventory: await this.resync(signal) }
        } catch {
          // The next round tries again.
        }
        continue
      }
      this.token = batch.token
      applyEvents(this.state, batch.events)
      yield* this.diff()
    }
  }

  private *diff(): Generator<InventoryEvent> {
    const seen = new Set<string>()
    for (const [ref, vm] of this.state.VM) {
      if (!isGuest(vm)) continue
      const v: Vm = toVm(this.state, ref, vm)
      seen.add(v.id)
      const key = JSON.stringify(v)
      if (this.lastVms.get(v.id) !== key) {
        this.lastVms.set(v.id, key)
        yield { type: 'vm-changed', vm: v }
      }
    }
    for (const id of [...this.lastVms.keys()]) {
      if (!seen.has(id)) {
        this.lastVms.delete(id)
        yield { type: 'vm-removed', vmId: id }
      }
    }
  }
}
