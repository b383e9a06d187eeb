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
import { SshConnectionHolder } from '../ssh/ssh-adapter-base'
import { raw, sh } from '../ssh/shell-quote'

const unavailable = (reason: string) => ({ available: false, reason })

/**
 * Linux hosts over SSH. This is the connection, identity and a first libvirt inventory (domain names and power
 * states through `virsh`); disks, snapshots, backups and restores are added by the Linux host work.
 */
export class LinuxAdapter implements HostAdapter {
  readonly kind = 'linux' as const
  private readonly ssh: SshConnectionHolder

  constructor(options: AdapterOptions) {
    this.ssh = new SshConnectionHolder(options)
  }

  async connect(signal: AbortSignal): Promise<HostIdentity> {
    const conn = await this.ssh.get(signal)
    // One round trip: hostname, OS pretty name (or kernel name), kernel release.
    const out = await conn.run(
      sh`uname -n; ${raw(`( . /etc/os-release 2>/dev/null && printf '%s\\n' "$PRETTY_NAME" ) || uname -s`)}; uname -r`,
      { signal, timeoutMs: 20_000, maxOutputBytes: 64 * 1024 },
    )
    const [hostname = '', os = '', version = ''] = out.split('\n').map((l) => l.trim())
    if (hostname === '') throw new AdapterError('BAD_RESPONSE', 'The host did not report its name (uname -n printed nothing).')
    return {
      hostname: hostname.slice(0, 255),
      ...(os ? { os: os.slice(0, 255) } : {}),
      ...(version ? { version: version.slice(0, 255) } : {}),
      fingerprint: conn.fingerprint,
      fingerprintType: conn.keyType,
    }
  }

  async inventory(signal: AbortSignal): Promise<Inventory> {
    const conn = await this.ssh.get(signal)
    const hostname = (await conn.run(sh`uname -n`, { signal, timeoutMs: 20_000, maxOutputBytes: 4096 })).trim()
    const vms = await this.libvirtDomains(signal)
    return { hostname, hosts: [{ id: hostname, name: hostname }], vms }
  }

  describe(): AdapterDescription {
    const later = unavailable('Not available for Linux hosts in this version of Lifeboat yet.')
    return {
      kind: 'linux',
      capabilities: {
        inventory: { available: true },
        watch: unavailable('Linux hosts are polled for changes.'),
        power: later,
        snapshots: later,
        backup: later,
        disks: later,
        restore: later,
        hooks: later,
      },
    }
  }

  async close(): Promise<void> {
    await this.ssh.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /**
   * Lists libvirt domains by UUID (hex only, safe to print) with state and base64-encoded name (names may hold
   * any character). A host without virsh simply has no libvirt VMs.
   */
  private async libvirtDomains(signal: AbortSignal): Promise<Vm[]> {
    const conn = await this.ssh.get(signal)
    const script = raw(
      [
        'command -v virsh >/dev/null 2>&1 || exit 0',
        'export LIBVIRT_DEFAULT_URI="${LIBVIRT_DEFAULT_URI:-qemu:///system}"',
        'virsh -q -r list --all --uuid 2>/dev/null | while read -r u; do',
        '  [ -n "$u" ] || continue',
        '  s=$(virsh -r domstate "$u" 2>/dev/null | head -n 1)',
        '  n=$(virsh -r domname "$u" 2>/dev/null | head -n 1 | base64 | tr -d "\\n")',
        '  printf "DOM\\t%s\\t%s\\t%s\\n" "$u" "$s" "$n"',
        'done',
      ].join('\n'),
    )
    const out = await conn.run(sh`sh -c ${script.text}`, { signal, timeoutMs: 60_000, maxOutputBytes: 4 * 1024 * 1024 })
    const vms: Vm[] = []
    for (const line of out.split('\n')) {
      const [tag, uuid, state, name64] = line.split('\t')
      if (tag !== 'DOM' || uuid === undefined || !/^[0-9a-f-]{36}$/i.test(uuid)) continue
      const name = Buffer.from(name64 ?? '', 'base64').toString('utf8').trim() || uuid
      vms.push({ id: uuid.toLowerCase(), name, powerState: virshState(state ?? ''), disks: [], snapshots: [] })
      if (vms.length >= 10_000) break
    }
    return vms
  }
}

function virshState(state: string): PowerState {
  switch (state.trim()) {
    case 'running':
    case 'idle':
    case 'in shutdown':
      return 'running'
    case 'paused':
      return 'paused'
    case 'shut off':
    case 'crashed':
      return 'halted'
    case 'pmsuspended':
      return 'suspended'
    default:
      return 'unknown'
  }
}

export function createLinuxAdapter(options: AdapterOptions): HostAdapter {
  return new LinuxAdapter(options)
}
