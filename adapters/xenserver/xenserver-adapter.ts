import {
  AdapterError,
  type AdapterOptions,
  type HostAdapter,
  type HostIdentity,
  type Inventory,
  type InventoryEvent,
} from '../host-adapter'
import { XapiArchive } from './archive'
import { XapiBackup } from './backup'
import { XapiHealthCheck } from './health-check'
import { LiveInventory, loadState } from './live-inventory'
import { toInventory } from './pool-state'
import { XapiReconcile } from './reconcile'
import { XapiRestore } from './restore'
import { XapiSnapshots } from './snapshots'
import { XapiClient } from './xapi-client'

/**
 * XenServer / XCP-ng pools through XAPI: the pinned connection (following the pool master), a live inventory from
 * event.from, cold/warm/hot and CBT-incremental backups, "snapshot before patching", restores, XVA files and the
 * cleanup of anything a crashed job left behind.
 */
export class XenServerAdapter implements HostAdapter {
  readonly kind = 'xenserver' as const
  private client: XapiClient | undefined
  private opening: Promise<XapiClient> | undefined
  private live: LiveInventory | undefined
  private closed = false

  readonly backup: XapiBackup
  readonly snapshots: XapiSnapshots
  readonly restore: XapiRestore
  readonly archive: XapiArchive
  readonly reconcile: XapiReconcile
  readonly healthCheck: XapiHealthCheck

  constructor(
    private readonly options: AdapterOptions,
    private readonly notice: (message: string) => void = () => undefined,
  ) {
    const session = (signal: AbortSignal) => this.session(signal)
    this.backup = new XapiBackup(session)
    this.snapshots = new XapiSnapshots(session)
    this.restore = new XapiRestore(session)
    this.archive = new XapiArchive(session)
    this.reconcile = new XapiReconcile(session)
    this.healthCheck = new XapiHealthCheck(session, this.restore)
  }

  /** The open session, opened (pinned, verified, logged in) on first use and reopened after a drop. */
  private async session(signal: AbortSignal): Promise<XapiClient> {
    if (this.closed) throw new AdapterError('CANCELLED', 'The connection to the pool was closed.')
    if (this.client?.isOpen() === true) return this.client
    if (this.client) {
      // xen-api gave up on the session (it expired and logging in again failed, or the connection broke).
      const dead = this.client
      this.client = undefined
      await dead.close()
    }
    const { endpoint, secret } = this.options
    if (secret.type !== 'password') throw new AdapterError('NOT_SUPPORTED', 'XAPI logs in with a user name and password, not an SSH key.')
    this.opening ??= XapiClient.open(
      {
        host: endpoint.address,
        port: endpoint.port,
        user: endpoint.user,
        password: secret.password,
        ...(this.options.pinnedFingerprint !== undefined ? { pinnedFingerprint: this.options.pinnedFingerprint } : {}),
        timeoutMs: this.options.connectTimeoutMs ?? 15_000,
      },
      signal,
    ).finally(() => {
      this.opening = undefined
    })
    const client = await this.opening
    if (this.isClosed()) {
      await client.close()
      throw new AdapterError('CANCELLED', 'The connection to the pool was closed.')
    }
    this.client = client
    return client
  }

  private isClosed(): boolean {
    return this.closed
  }

  async connect(signal: AbortSignal): Promise<HostIdentity> {
    const client = await this.session(signal)
    const { state } = await loadState(client, signal)
    const pool = [...state.pool.values()][0]
    const master = pool ? state.host.get(pool.master) : undefined
    const sw = master?.software_version ?? {}
    const product = sw.product_brand ?? sw.platform_name
    const version = sw.product_version ?? sw.platform_version
    return {
      hostname: pool?.name_label || master?.name_label || master?.hostname || this.options.endpoint.address,
      ...(product !== undefined ? { os: product } : {}),
      ...(version !== undefined ? { version } : {}),
      fingerprint: client.fingerprint,
      fingerprintType: 'tls-certificate',
    }
  }

  async inventory(signal: AbortSignal): Promise<Inventory> {
    const client = await this.session(signal)
    return toInventory((await loadState(client, signal)).state)
  }

  /**
   * Live inventory events from event.from: a full 'resync' first (and again after EVENTS_LOST, an expired session
   * or a broken connection), then one event per VM that changed or disappeared.
   */
  watch(signal: AbortSignal): AsyncIterable<InventoryEvent> {
    this.live ??= new LiveInventory((s) => this.session(s), this.notice)
    return this.live.events(signal)
  }

  async close(): Promise<void> {
    this.closed = true
    const client = this.client
    this.client = undefined
    await client?.close()
    const opening = this.opening
    if (opening) await opening.then((c) => c.close()).catch(() => undefined)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

export function createXenServerAdapter(options: AdapterOptions): HostAdapter {
  return new XenServerAdapter(options)
}
