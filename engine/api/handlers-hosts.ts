import { randomUUID } from 'node:crypto'
import type { HostAdapter, HostIdentity, HostSecret } from '../../adapters/host-adapter'
import type { AdapterRegistry } from '../../adapters/registry'
import { adapterOptionsFor } from '../inventory/adapter-options'
import type { InventoryService } from '../inventory/inventory-service'
import type { SavedHost, HostsStore } from '../state/hosts-store'
import type { SecretStore } from '../state/secret-store'
import { ApiError } from './contract-errors'
import { defaultPorts, parseAddress, type HostAuthInput, type HostDto } from './contract-hosts'
import type { EventBus } from '../common/event-bus'
import type { Handler } from './handler-types'
import { toApiError } from '../errors/to-api-error'

export interface HostHandlerDeps {
  readonly hosts: HostsStore
  readonly secrets: SecretStore
  readonly adapters: AdapterRegistry
  readonly inventory: InventoryService
  readonly events: EventBus
  readonly connectTimeoutMs?: number
  readonly now?: () => number
}

export function toHostDto(r: SavedHost): HostDto {
  return {
    id: r.id,
    kind: r.kind,
    name: r.name,
    address: r.address,
    port: r.port,
    user: r.user,
    authType: r.authType,
    fingerprint: r.fingerprint,
    fingerprintType: r.fingerprintType,
    addedAt: r.addedAt,
    ...(r.identity ? { identity: r.identity } : {}),
  }
}

function toSecret(auth: HostAuthInput): HostSecret {
  if (auth.type === 'password') return { type: 'password', password: auth.password }
  return auth.passphrase !== undefined && auth.passphrase !== ''
    ? { type: 'key', privateKey: auth.privateKey, passphrase: auth.passphrase }
    : { type: 'key', privateKey: auth.privateKey }
}

function identityOf(id: HostIdentity): NonNullable<SavedHost['identity']> {
  return { hostname: id.hostname, ...(id.os !== undefined ? { os: id.os } : {}), ...(id.version !== undefined ? { version: id.version } : {}) }
}

export function hostHandlers(deps: HostHandlerDeps) {
  const now = () => new Date(deps.now?.() ?? Date.now()).toISOString()

  async function requireHost(hostId: string): Promise<SavedHost> {
    const record = await deps.hosts.find(hostId)
    if (!record) throw new ApiError('HOST_NOT_FOUND', `There is no saved host "${hostId}".`, { host: hostId })
    return record
  }

  /** Opens a fresh connection (never the shared one), runs `fn`, and always closes it. */
  async function withAdapter<T>(adapter: HostAdapter, fn: (a: HostAdapter) => Promise<T>): Promise<T> {
    try {
      return await fn(adapter)
    } finally {
      await adapter.close().catch(() => undefined)
    }
  }

  const list: Handler<'hosts.list'> = async () => (await deps.hosts.list()).map(toHostDto)

  const add: Handler<'hosts.add'> = async (input, ctx) => {
    const address = parseAddress(input.address)
    if (!address.ok) throw new ApiError('INVALID_INPUT', address.reason, { field: 'address' })
    if (input.kind === 'xenserver' && input.auth.type !== 'password') {
      throw new ApiError('INVALID_INPUT', 'XenServer and XCP-ng pools log in with a user name and password, not an SSH key.', { field: 'auth' })
    }
    const clash = (existing: readonly SavedHost[]) => {
      if (existing.some((h) => h.name.toLowerCase() === input.name.toLowerCase())) {
        throw new ApiError('HOST_NAME_TAKEN', `A host named "${input.name}" already exists. Choose another name.`, { field: 'name', name: input.name })
      }
    }
    clash(await deps.hosts.list())

    const secret = toSecret(input.auth)
    const port = address.port ?? defaultPorts[input.kind]
    const endpoint = { kind: input.kind, address: address.host, port, user: input.user }
    const adapter = await deps.adapters.create(adapterOptionsFor(endpoint, secret, input.acceptFingerprint, deps.connectTimeoutMs))
    const identity = await withAdapter(adapter, (a) => a.connect(ctx.signal))
    const record: SavedHost = {
      id: randomUUID(),
      ...endpoint,
      name: input.name,
      authType: input.auth.type,
      fingerprint: identity.fingerprint,
      fingerprintType: identity.fingerprintType,
      addedAt: now(),
      identity: identityOf(identity),
    }

    // Credentials first, then the record: a host is only ever visible with its credentials in place.
    await deps.secrets.set(record.id, secret)
    try {
      await deps.hosts.add(record, clash)
    } catch (err) {
      await deps.secrets.delete(record.id).catch(() => undefined)
      throw err
    }
    const dto = toHostDto(record)
    deps.events.emit('hosts.changed', { change: 'added', host: dto })
    void deps.inventory.refresh(record.id).catch(() => undefined)
    return dto
  }

  const test: Handler<'hosts.test'> = async (input, ctx) => {
    const record = await requireHost(input.hostId)
    const secret = await deps.secrets.get(record.id)
    const started = performance.now()
    let identity
    try {
      identity = await withAdapter(await deps.adapters.create(adapterOptionsFor(record, secret, record.fingerprint, deps.connectTimeoutMs)), (a) => a.connect(ctx.signal))
    } catch (err) {
      // The tree must not keep saying "online" over a connection opened before the host changed.
      const error = toApiError(err)
      if (error.code !== 'CANCELLED') await deps.inventory.reportFailure(record.id, error.toJSON())
      throw error
    }
    const latencyMs = Math.round(performance.now() - started)
    await deps.hosts.update(record.id, { identity: identityOf(identity) })
    return { hostId: record.id, latencyMs, identity: identityOf(identity), fingerprint: identity.fingerprint }
  }

  const remove: Handler<'hosts.remove'> = async (input) => {
    const record = await requireHost(input.hostId)
    await deps.inventory.forget(record.id)
    await deps.hosts.remove(record.id)
    await deps.secrets.delete(record.id)
    deps.events.emit('hosts.changed', { change: 'removed', host: toHostDto(record) })
    return { hostId: record.id, name: record.name }
  }

  const acceptKey: Handler<'hosts.acceptKey'> = async (input, ctx) => {
    const record = await requireHost(input.hostId)
    const secret = await deps.secrets.get(record.id)
    const identity = await withAdapter(
      await deps.adapters.create(adapterOptionsFor(record, secret, input.fingerprint, deps.connectTimeoutMs)),
      (a) => a.connect(ctx.signal),
    )
    const updated = await deps.hosts.update(record.id, {
      fingerprint: identity.fingerprint,
      fingerprintType: identity.fingerprintType,
      identity: identityOf(identity),
    })
    if (!updated) throw new ApiError('HOST_NOT_FOUND', `The host "${record.name}" was removed meanwhile.`)
    await deps.inventory.forget(record.id)
    const dto = toHostDto(updated)
    deps.events.emit('hosts.changed', { change: 'updated', host: dto })
    void deps.inventory.refresh(record.id).catch(() => undefined)
    return dto
  }

  const updateCredentials: Handler<'hosts.updateCredentials'> = async (input, ctx) => {
    const record = await requireHost(input.hostId)
    if (record.kind === 'xenserver' && input.auth.type !== 'password') {
      throw new ApiError('INVALID_INPUT', 'XenServer and XCP-ng pools log in with a user name and password, not an SSH key.', { field: 'auth' })
    }
    const secret = toSecret(input.auth)
    const candidate: SavedHost = { ...record, user: input.user ?? record.user, authType: input.auth.type }
    const identity = await withAdapter(await deps.adapters.create(adapterOptionsFor(candidate, secret, candidate.fingerprint, deps.connectTimeoutMs)), (a) => a.connect(ctx.signal))
    await deps.secrets.set(record.id, secret)
    const updated = await deps.hosts.update(record.id, { user: candidate.user, authType: candidate.authType, identity: identityOf(identity) })
    if (!updated) throw new ApiError('HOST_NOT_FOUND', `The host "${record.name}" was removed meanwhile.`)
    await deps.inventory.forget(record.id)
    const dto = toHostDto(updated)
    deps.events.emit('hosts.changed', { change: 'updated', host: dto })
    return dto
  }

  return {
    'hosts.list': list,
    'hosts.add': add,
    'hosts.test': test,
    'hosts.remove': remove,
    'hosts.acceptKey': acceptKey,
    'hosts.updateCredentials': updateCredentials,
  } as const
}
