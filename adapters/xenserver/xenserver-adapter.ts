import { z } from 'zod'
import {
  AdapterError,
  type AdapterDescription,
  type AdapterOptions,
  type HostAdapter,
  type HostIdentity,
  type Inventory,
  type PowerState,
  type Vm,
} from '../host-adapter'
import { XapiClient } from './xapi-client'

const num = z.union([z.number(), z.string().regex(/^-?\d+$/)]).transform(Number)

const PoolRecord = z.object({ name_label: z.string(), master: z.string() })
const HostRecord = z.object({
  uuid: z.string(),
  name_label: z.string(),
  hostname: z.string().optional(),
  software_version: z.record(z.string(), z.string()).optional(),
})
const VmRecord = z.object({
  uuid: z.string(),
  name_label: z.string(),
  power_state: z.string(),
  is_a_template: z.boolean(),
  is_a_snapshot: z.boolean(),
  is_control_domain: z.boolean(),
  resident_on: z.string().optional(),
  VCPUs_at_startup: num.optional(),
  memory_static_max: num.optional(),
})

function records<T extends z.ZodType>(schema: T, value: unknown, what: string): Map<string, z.output<T>> {
  const parsed = z.record(z.string(), schema).safeParse(value)
  if (!parsed.success) throw new AdapterError('BAD_RESPONSE', `The pool returned ${what} records Lifeboat does not understand.`)
  return new Map(Object.entries(parsed.data) as [string, z.output<T>][])
}

function powerState(state: string): PowerState {
  switch (state) {
    case 'Running':
      return 'running'
    case 'Halted':
      return 'halted'
    case 'Paused':
      return 'paused'
    case 'Suspended':
      return 'suspended'
    default:
      return 'unknown'
  }
}

/**
 * XenServer / XCP-ng pools through XAPI. This is the pinned connection, identity and the VM list; disks,
 * snapshots, live events, backups and restores are added by the XenServer work.
 */
export class XenServerAdapter implements HostAdapter {
  readonly kind = 'xenserver' as const
  private client: XapiClient | undefined
  private opening: Promise<XapiClient> | undefined

  constructor(private readonly options: AdapterOptions) {}

  private async session(signal: AbortSignal): Promise<XapiClient> {
    if (this.client) return this.client
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
    this.client = await this.opening
    return this.client
  }

  async connect(signal: AbortSignal): Promise<HostIdentity> {
    const client = await this.session(signal)
    const pools = records(PoolRecord, await client.call('pool.get_all_records'), 'pool')
    const hosts = records(HostRecord, await client.call('host.get_all_records'), 'host')
    const pool = [...pools.values()][0]
    const master = pool ? hosts.get(pool.master) : undefined
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
    const identity = await this.connect(signal)
    const client = await this.session(signal)
    const hosts = records(HostRecord, await client.call('host.get_all_records'), 'host')
    const vmRecords = records(VmRecord, await client.call('VM.get_all_records'), 'VM')
    const vms: Vm[] = []
    for (const vm of vmRecords.values()) {
      if (vm.is_a_template || vm.is_a_snapshot || vm.is_control_domain) continue
      const resident = vm.resident_on !== undefined ? hosts.get(vm.resident_on)?.name_label : undefined
      vms.push({
        id: vm.uuid,
        name: vm.name_label,
        powerState: powerState(vm.power_state),
        ...(resident !== undefined ? { residentOn: resident } : {}),
        ...(vm.VCPUs_at_startup !== undefined ? { cpus: vm.VCPUs_at_startup } : {}),
        ...(vm.memory_static_max !== undefined ? { memoryBytes: vm.memory_static_max } : {}),
        disks: [],
        snapshots: [],
      })
    }
    return {
      hostname: identity.hostname,
      hosts: [...hosts.values()].map((h) => ({ id: h.uuid, name: h.name_label })),
      vms,
    }
  }

  describe(): AdapterDescription {
    const later = { available: false, reason: 'Not available for XenServer pools in this version of Lifeboat yet.' }
    return {
      kind: 'xenserver',
      capabilities: { inventory: { available: true }, watch: later, power: later, snapshots: later, backup: later, disks: later, restore: later, hooks: later },
    }
  }

  async close(): Promise<void> {
    const client = this.client
    this.client = undefined
    await client?.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

export function createXenServerAdapter(options: AdapterOptions): HostAdapter {
  return new XenServerAdapter(options)
}
