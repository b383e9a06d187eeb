import {
  AdapterError,
  type AdapterOptions,
  type BackupCapability,
  type GuestFilesCapability,
  type HealthCheckCapability,
  type InstantRunCapability,
  type HooksCapability,
  type HostAdapter,
  type HostIdentity,
  type Inventory,
  type PowerState,
  type ManualVmCapability,
  type ReconcileCapability,
  type RestoreCapability,
  type SnapshotCapability,
  type Vm,
} from '../host-adapter'
import { RootShell } from '../ssh/root-shell'
import { SshConnectionHolder } from '../ssh/ssh-adapter-base'
import { raw, sh } from '../ssh/shell-quote'
import { libvirtGuestFiles } from './guest-files'
import { libvirtBootCheck } from './health-check'
import { resumeInstantRun, startInstantRun } from './instant-run'
import { discardRun, listRuns, makeRunPermanent, unstallRun } from './instant-run-manage'
import { runHook } from './hooks'
import { beginLibvirtBackup, libvirtModes } from './libvirt-backup'
import { libvirtSnapshots } from './libvirt-snapshots'
import { domainDetails } from './inventory-details'
import { cleanLeftovers, findLeftovers } from './reconcile'
import { restoreLibvirtVm } from './libvirt-restore'
import { beginManualBackup, manualModes } from './manual-backup'
import { manualVms, readManualVms, type ManualVm } from './manual-vms'
import { restoreManualVm } from './manual-restore'

/**
 * Linux hosts over SSH: libvirt/KVM domains (inventory through `virsh`, cold/warm/hot and checkpoint-incremental
 * backups, snapshots and browsing them in place, restores, health checks that boot a restore point, guest files
 * through the guest agent) and VMs registered by hand (LVM volumes, btrfs or plain image files, with the admin's own
 * start/stop commands), pre/post hooks and the cleanup of anything a crashed job left behind. See README.md in this folder.
 */
export class LinuxAdapter implements HostAdapter {
  readonly kind = 'linux' as const
  private readonly ssh: SshConnectionHolder

  readonly backup: BackupCapability
  readonly snapshots: SnapshotCapability
  readonly restore: RestoreCapability
  readonly reconcile: ReconcileCapability
  readonly hooks: HooksCapability
  readonly manualVms: ManualVmCapability
  readonly guestFiles: GuestFilesCapability
  readonly healthCheck: HealthCheckCapability
  readonly instantRun: InstantRunCapability

  constructor(options: AdapterOptions) {
    this.ssh = new SshConnectionHolder(options)
    const shell = async (signal: AbortSignal) => await RootShell.for(await this.ssh.get(signal), signal)
    // Registered VMs have ids of their own ("manual-…"); everything else is a libvirt domain UUID.
    const manual = async (vmId: string, signal: AbortSignal): Promise<ManualVm | undefined> =>
      vmId.startsWith('manual-') ? (await readManualVms(await shell(signal), signal)).find((v) => v.id === vmId) : undefined
    const requireManual = async (vmId: string, signal: AbortSignal): Promise<ManualVm> => {
      const vm = await manual(vmId, signal)
      if (vm === undefined) throw new AdapterError('NOT_FOUND', `There is no registered VM ${vmId.slice(0, 80)}.`)
      return vm
    }
    this.backup = {
      modes: async (vmId, signal) => (vmId.startsWith('manual-') ? manualModes(shell, await requireManual(vmId, signal), signal) : libvirtModes(shell, vmId, signal)),
      begin: async (vmId, opts, signal) =>
        vmId.startsWith('manual-') ? beginManualBackup(shell, await requireManual(vmId, signal), opts, signal) : beginLibvirtBackup(shell, vmId, opts, signal),
    }
    this.snapshots = libvirtSnapshots(shell)
    this.restore = {
      restoreVm: (request, signal) => {
        const kind = typeof request.vmConfig === 'object' && request.vmConfig !== null && !Array.isArray(request.vmConfig) ? (request.vmConfig as { kind?: unknown }).kind : undefined
        return kind === 'manual' ? restoreManualVm(shell, request, signal) : restoreLibvirtVm(shell, request, signal)
      },
    }
    this.manualVms = manualVms(shell)
    this.healthCheck = { bootCheck: (request, signal) => libvirtBootCheck(shell, request, signal) }
    this.instantRun = {
      start: (request, signal) => startInstantRun(shell, request, signal),
      resume: (name, disks, signal) => resumeInstantRun(shell, name, disks, signal),
      list: async (signal) => listRuns(await shell(signal), signal),
      unstall: async (name, signal) => unstallRun(await shell(signal), name, signal),
      makePermanent: async (name, progress, signal) => makeRunPermanent(await shell(signal), name, progress, signal),
      discard: async (name, signal) => discardRun(await shell(signal), name, signal),
    }
    this.reconcile = {
      find: async (signal) => findLeftovers(await shell(signal), signal),
      clean: async (ids, signal) => cleanLeftovers(await shell(signal), ids, signal),
    }
    this.hooks = { run: async (hook, signal) => runHook(await shell(signal), hook, signal) }
    this.guestFiles = {
      copyIn: async (vmId, file, signal) => {
        if (vmId.startsWith('manual-')) throw new AdapterError('NOT_SUPPORTED', 'Files can be put into libvirt guests only (through their guest agent); restore to a folder instead.')
        await libvirtGuestFiles(() => shell(signal)).copyIn(vmId, file, signal)
      },
    }
  }

  async connect(signal: AbortSignal): Promise<HostIdentity> {
    const conn = await this.ssh.get(signal)
    // One round trip: hostname, OS pretty name (or kernel name), kernel release, and whether this login is root.
    const out = await conn.run(
      sh`uname -n; ${raw(`( . /etc/os-release 2>/dev/null && printf '%s\\n' "$PRETTY_NAME" ) || uname -s`)}; uname -r; id -u`,
      { signal, timeoutMs: 20_000, maxOutputBytes: 64 * 1024 },
    )
    const lines = out.split('\n').map((l) => l.trim())
    const [hostname = '', os = '', version = ''] = lines
    // id -u's answer is the last line whatever the others printed.
    RootShell.remember(conn, lines.filter((l) => l !== '').at(-1) ?? '')
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
    // Three independent round trips, at once.
    const [name, vms, registered] = await Promise.all([conn.run(sh`uname -n`, { signal, timeoutMs: 20_000, maxOutputBytes: 4096 }), this.libvirtDomains(signal), this.registeredVms(signal)])
    const hostname = name.trim()
    return { hostname, hosts: [{ id: hostname, name: hostname }], vms: [...vms, ...registered] }
  }

  async close(): Promise<void> {
    await this.ssh.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /**
   * VMs registered by hand, with their power state when they have a status command. Read as the login (the list is
   * world-readable), so an inventory never needs root; the status commands do, and say 'unknown' without it.
   */
  private async registeredVms(signal: AbortSignal): Promise<Vm[]> {
    const conn = await this.ssh.get(signal)
    const list = await readManualVms(conn, signal).catch((): ManualVm[] => [])
    const vms: Vm[] = []
    for (const v of list.slice(0, 1000)) {
      let powerState: PowerState = 'unknown'
      if (v.commands?.status !== undefined) {
        const status = v.commands.status
        const code = await RootShell.for(conn, signal)
          .then((root) => root.exec(sh`sh -c ${status}`, { signal, timeoutMs: 30_000, maxOutputBytes: 64 * 1024 }))
          .then((r) => r.code)
          .catch(() => undefined)
        if (code !== undefined) powerState = code === 0 ? 'running' : 'halted'
      }
      vms.push({ id: v.id, name: v.name, powerState, disks: v.disks.map((d) => ({ id: d.name, name: d.name, location: d.path })), snapshots: [] })
    }
    return vms
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
        'virsh -q -r list --all --uuid 2>/dev/null | head -n 2000 | while read -r u; do',
        '  [ -n "$u" ] || continue',
        '  s=$(virsh -r domstate "$u" 2>/dev/null | head -n 1)',
        '  n=$(virsh -r domname "$u" 2>/dev/null | head -n 1 | base64 | tr -d "\\n")',
        '  x=$(virsh -r dumpxml "$u" 2>/dev/null | head -c 1048576 | base64 | tr -d "\\n")',
        '  k=$(virsh -r snapshot-list "$u" --name 2>/dev/null | head -n 500 | base64 | tr -d "\\n")',
        '  b=$(virsh -r domblkinfo "$u" --all 2>/dev/null | head -n 200 | base64 | tr -d "\\n")',
        '  printf "DOM\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n" "$u" "$s" "$n" "$x" "$k" "$b"',
        'done',
      ].join('\n'),
    )
    const out = await conn.run(sh`sh -c ${script.text}`, { signal, timeoutMs: 120_000, maxOutputBytes: 64 * 1024 * 1024 })
    const vms: Vm[] = []
    for (const line of out.split('\n')) {
      const [tag, uuid, state, name64, xml64, snaps64, sizes64] = line.split('\t')
      if (tag !== 'DOM' || uuid === undefined || !/^[0-9a-f-]{36}$/i.test(uuid)) continue
      const name = Buffer.from(name64 ?? '', 'base64').toString('utf8').trim() || uuid
      const details = domainDetails(Buffer.from(xml64 ?? '', 'base64').toString('utf8'), Buffer.from(snaps64 ?? '', 'base64').toString('utf8'), Buffer.from(sizes64 ?? '', 'base64').toString('utf8'))
      vms.push({ id: uuid.toLowerCase(), name, powerState: virshState(state ?? ''), ...details })
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
