import type { HostAdapter, Inventory, InventoryEvent, Vm } from '../../adapters/host-adapter'
import type { AdapterRegistry } from '../../adapters/registry'
import type { ApiErrorShape } from '../api/contract-errors'
import type { HostInventoryDto, InventoryTree } from '../api/contract-inventory'
import type { EventBus } from '../common/event-bus'
import { toApiError } from '../errors/to-api-error'
import type { SavedHost, HostsStore } from '../state/hosts-store'
import type { SecretStore } from '../state/secret-store'
import { adapterOptionsFor } from './adapter-options'

export interface InventoryServiceDeps {
  readonly hosts: HostsStore
  readonly secrets: SecretStore
  readonly adapters: AdapterRegistry
  readonly events: EventBus
  /** How often polling hosts are asked again (ms). */
  readonly pollMs?: number
  /** Upper bound for one host's inventory round (ms). */
  readonly timeoutMs?: number
  readonly connectTimeoutMs?: number
  readonly now?: () => number
}

interface HostState {
  record: SavedHost
  adapter: HostAdapter | undefined
  dto: HostInventoryDto
  lastEmitted: string | undefined
  inflight: Promise<HostInventoryDto> | undefined
  /** The look asked for while `inflight` ran (refresh: "ask now"), started once that one ends; shared by all who ask. */
  next: Promise<HostInventoryDto> | undefined
  /** Live events (adapter.watch, e.g. XAPI event.from) while the service runs in the background. */
  watching: AbortController | undefined
}

/**
 * Keeps one connection per host, the last inventory of each, and tells subscribers when something changed.
 * In the desktop app and the bridge it polls; the CLI just calls refresh() once. A host that fails keeps its
 * last known VMs, marked with the error, so an outage never makes VMs silently vanish from the tree.
 */
export class InventoryService {
  private readonly states = new Map<string, HostState>()
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  private revision = 0

  constructor(private readonly deps: InventoryServiceDeps) {}

  /** The tree as last seen, without waiting for any host. */
  async tree(): Promise<InventoryTree> {
    const records = await this.sync()
    if (this.timer !== undefined) for (const r of records) if (this.states.get(r.id)?.dto.updatedAt === undefined) this.refreshInBackground(r.id)
    return { hosts: records.map((r) => this.stateFor(r).dto) }
  }

  /**
   * Asks the hosts now (all, or one) and returns the fresh tree. Never throws for a host's failure. With
   * `reconnect`, a fresh connection first checks the host's key and credentials anew (the shared connection,
   * which running work may be using, is left alone unless that check fails).
   */
  async refresh(hostId?: string, signal?: AbortSignal, { reconnect = false }: { reconnect?: boolean } = {}): Promise<InventoryTree> {
    const records = await this.sync()
    const targets = hostId === undefined ? records : records.filter((r) => r.id === hostId)
    await Promise.all(
      targets.map(async (r) => {
        if (reconnect) {
          try {
            await this.verifyFresh(r, signal)
          } catch (err) {
            await this.reportFailure(r.id, toApiError(err).toJSON())
            return
          }
        }
        await this.refreshHost(r.id, signal, { fresh: true })
      }),
    )
    return { hosts: records.map((r) => this.stateFor(r).dto) }
  }

  /** A connected adapter for a host, shared with the inventory (for backups, snapshots, browsing). */
  async adapterFor(hostId: string, signal: AbortSignal): Promise<HostAdapter> {
    await this.sync()
    const state = this.states.get(hostId)
    if (!state) throw new Error(`Unknown host ${hostId}`)
    return await this.ensureAdapter(state, signal)
  }

  /** A check outside the inventory (e.g. "Test connection") failed: show it, and reconnect next time. */
  async reportFailure(hostId: string, error: ApiErrorShape): Promise<void> {
    const state = this.states.get(hostId)
    if (!state) return
    await this.dropConnection(hostId)
    const { error: _previous, ...rest } = state.dto
    this.update(state, { ...rest, status: 'error', error })
  }

  private async verifyFresh(record: SavedHost, signal?: AbortSignal): Promise<void> {
    const secret = await this.deps.secrets.get(record.id)
    const adapter = await this.deps.adapters.create(adapterOptionsFor(record, secret, record.fingerprint, this.deps.connectTimeoutMs))
    try {
      await adapter.connect(signal ?? AbortSignal.timeout(this.deps.timeoutMs ?? 60_000))
    } finally {
      await adapter.close().catch(() => undefined)
    }
  }

  private async dropConnection(hostId: string): Promise<void> {
    const state = this.states.get(hostId)
    const adapter = state?.adapter
    state?.watching?.abort()
    if (state) state.adapter = undefined
    await adapter?.close().catch(() => undefined)
  }

  /** Drops the connection and cached state of a host (removed, new key, new credentials). */
  async forget(hostId: string): Promise<void> {
    const state = this.states.get(hostId)
    this.states.delete(hostId)
    state?.watching?.abort()
    await state?.adapter?.close().catch(() => undefined)
  }

  start(): void {
    if (this.timer !== undefined || this.stopped) return
    const tick = () => {
      void this.sync()
        .then((records) => {
          for (const r of records) this.refreshInBackground(r.id)
        })
        .catch((err: unknown) => console.error('Lifeboat: reading hosts failed:', err instanceof Error ? err.message : err))
    }
    this.timer = setInterval(tick, this.deps.pollMs ?? 30_000)
    this.timer.unref()
    tick()
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    const states = [...this.states.values()]
    this.states.clear()
    for (const s of states) s.watching?.abort()
    await Promise.all(states.map(async (s) => s.adapter?.close().catch(() => undefined)))
  }

  private refreshInBackground(hostId: string): void {
    void this.refreshHost(hostId).catch(() => undefined)
  }

  /**
   * One look at a host, shared with a look already under way — unless `fresh`: a caller that asks now (after a change
   * it made, such as a VM it removed) must not get the answer of a look that began before, which may predate the
   * change. It gets the next look, started when the current one ends (one for all who asked meanwhile).
   */
  private async refreshHost(hostId: string, signal?: AbortSignal, { fresh = false }: { fresh?: boolean } = {}): Promise<HostInventoryDto | undefined> {
    const state = this.states.get(hostId)
    if (!state) return undefined
    const running = state.inflight
    if (fresh && running !== undefined) {
      state.next ??= running
        .catch(() => undefined)
        .then(async () => {
          state.next = undefined
          return (await this.refreshHost(hostId, signal)) ?? state.dto
        })
      return await state.next
    }
    state.inflight ??= this.load(state, signal).finally(() => {
      state.inflight = undefined
    })
    return await state.inflight
  }

  private async load(state: HostState, outer?: AbortSignal): Promise<HostInventoryDto> {
    const timeout = AbortSignal.timeout(this.deps.timeoutMs ?? 60_000)
    const signal = outer ? AbortSignal.any([outer, timeout]) : timeout
    try {
      const adapter = await this.ensureAdapter(state, signal)
      const inventory = await adapter.inventory(signal)
      this.update(state, toDto(state.record, inventory, this.now()))
      if (this.timer !== undefined) this.watch(state, adapter)
    } catch (err) {
      // Reconnect next time: the connection may be dead, or the key or credentials may have changed.
      const adapter = state.adapter
      state.watching?.abort()
      state.adapter = undefined
      await adapter?.close().catch(() => undefined)
      const error = timeout.aborted && !(outer?.aborted ?? false)
        ? { code: 'CONNECTION_TIMEOUT' as const, message: `${state.record.name} did not send its inventory in time.`, params: {} }
        : toApiError(err).toJSON()
      const { error: _previous, ...rest } = state.dto
      this.update(state, { ...rest, status: 'error', error })
    }
    return state.dto
  }

  /**
   * Follows a host's own change events where its adapter has them, so the tree changes as the host does instead of
   * at the next poll. Polling goes on beside it (it also notices a connection that died quietly).
   */
  private watch(state: HostState, adapter: HostAdapter): void {
    if (adapter.watch === undefined || state.watching !== undefined) return
    const controller = new AbortController()
    state.watching = controller
    const current = () => this.states.get(state.record.id) === state && state.adapter === adapter && !controller.signal.aborted
    const apply = (event: InventoryEvent): void => {
      if (!current()) return
      if (event.type === 'resync') {
        this.update(state, toDto(state.record, event.inventory, this.now()))
        return
      }
      const { revision: _revision, ...dto } = state.dto
      const others = dto.vms.filter((v) => v.id !== (event.type === 'vm-changed' ? event.vm.id : event.vmId))
      const vms = event.type === 'vm-changed' ? [...others, toVmDto(state.record, event.vm)].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id)) : others
      this.update(state, { ...dto, status: 'online', vms, updatedAt: new Date(this.now()).toISOString() })
    }
    void (async () => {
      for await (const event of adapter.watch?.(controller.signal) ?? []) apply(event)
    })()
      .catch(() => undefined)
      .finally(() => {
        if (state.watching === controller) state.watching = undefined
      })
  }

  private async ensureAdapter(state: HostState, signal: AbortSignal): Promise<HostAdapter> {
    if (state.adapter) return state.adapter
    const secret = await this.deps.secrets.get(state.record.id)
    const adapter = await this.deps.adapters.create(adapterOptionsFor(state.record, secret, state.record.fingerprint, this.deps.connectTimeoutMs))
    try {
      await adapter.connect(signal)
    } catch (err) {
      await adapter.close().catch(() => undefined)
      throw err
    }
    state.adapter = adapter
    return adapter
  }

  private update(state: HostState, next: Omit<HostInventoryDto, 'revision'>): void {
    const key = JSON.stringify({ ...next, updatedAt: undefined })
    state.dto = { ...next, revision: key === state.lastEmitted ? state.dto.revision : this.nextRevision() }
    if (key === state.lastEmitted) return
    state.lastEmitted = key
    const dto = state.dto
    if (this.states.get(state.record.id) === state) this.deps.events.emit('inventory.changed', dto)
  }

  /** Aligns the tracked hosts with the saved ones (another Lifeboat process may have added or removed some). */
  private async sync(): Promise<SavedHost[]> {
    const records = await this.deps.hosts.list()
    const ids = new Set(records.map((r) => r.id))
    for (const id of [...this.states.keys()]) if (!ids.has(id)) await this.forget(id)
    for (const r of records) {
      const state = this.states.get(r.id)
      if (state && (state.record.fingerprint !== r.fingerprint || state.record.user !== r.user || state.record.address !== r.address || state.record.port !== r.port)) {
        await this.forget(r.id)
      } else if (state) state.record = r
      this.stateFor(r)
    }
    return records
  }

  private stateFor(record: SavedHost): HostState {
    let state = this.states.get(record.id)
    if (!state) {
      state = {
        record,
        adapter: undefined,
        dto: { hostId: record.id, revision: this.nextRevision(), name: record.name, kind: record.kind, status: 'connecting', physicalHosts: [], vms: [] },
        lastEmitted: undefined,
        inflight: undefined,
        next: undefined,
        watching: undefined,
      }
      this.states.set(record.id, state)
    }
    return state
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now()
  }

  /** Time-based so that revisions keep growing across restarts of the engine. */
  private nextRevision(): number {
    this.revision = Math.max(this.revision + 1, this.now())
    return this.revision
  }
}

function toDto(record: SavedHost, inventory: Inventory, now: number): Omit<HostInventoryDto, 'revision'> {
  return {
    hostId: record.id,
    name: record.name,
    kind: record.kind,
    status: 'online',
    hostname: inventory.hostname,
    updatedAt: new Date(now).toISOString(),
    physicalHosts: inventory.hosts.map((h) => ({ id: h.id, name: h.name })),
    ...(inventory.storage !== undefined ? { storage: inventory.storage.map((s) => ({ ...s })) } : {}),
    vms: inventory.vms.map((vm) => toVmDto(record, vm)),
  }
}

function toVmDto(record: SavedHost, vm: Vm): HostInventoryDto['vms'][number] {
  return { ...vm, disks: vm.disks.map((d) => ({ ...d })), snapshots: vm.snapshots.map((s) => ({ ...s })), hostId: record.id, host: record.name }
}
