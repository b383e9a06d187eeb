import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import type { Server as NetServer } from 'node:net'
import type { Server } from 'node:https'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { selfSigned, type SelfSigned } from './certificates'
import { SimCore, type SimHost } from './core'
import { NULL_REF, text } from './datamodel-values'
import { xapiTime } from './db'
import { Dispatcher } from './dispatch'
import { transferRoutes } from './http-transfers'
import { methodTable } from './methods'
import { startNbdServer } from './nbd-server'
import { startRpcServer } from './rpc-server'
import { knownBytes, mixedBytes, Storage, type Content } from './storage'
import { VdiOps } from './vdi-ops'
import { VmOps } from './vm-ops'
import { checkVersion } from './versions'
import { ROLES } from './datamodel-source'

export interface SimVmSpec {
  readonly name: string
  /** Bytes per disk (default: the simulator's diskSize). */
  readonly diskSize?: number
  readonly disks?: number
  readonly powerState?: 'Running' | 'Halted'
  /** Which host runs it and holds its disks (the slave needs `pool.slave`). */
  readonly on?: 'master' | 'slave'
  /** What the disks hold: random bytes (default) or a used-disk mix of zeros, random bytes and text. */
  readonly content?: Content
}

export interface XapiSimOptions {
  /** Where each VDI's bytes live (a raw file named by the VDI's uuid); default a new temporary folder. */
  readonly dataDir?: string
  /** HTTPS port of every host (0: pick one). */
  readonly port?: number
  readonly address?: string
  readonly password?: string
  readonly vms?: readonly (string | SimVmSpec)[]
  readonly diskSize?: number
  /** Default content of the VMs' disks. */
  readonly content?: Content
  readonly srSize?: number
  /** A second host (a pool slave at 127.0.0.2 that answers logins with HOST_IS_SLAVE). */
  readonly pool?: { readonly slave?: boolean; readonly slaveAddress?: string; readonly sharedCertificate?: boolean }
  /** How long a transfer's dom0 VBD outlives it (default 1–5 s, as on a pool; tests shorten it). */
  readonly dom0VbdHold?: { readonly minMs: number; readonly maxMs: number }
  /** The XAPI version to play (e.g. '1.249.0', XCP-ng 8.2 LTS): fields, messages and parameters added later are absent (versions.ts). */
  readonly xapiVersion?: string
  /**
   * Users besides root, each with one of XAPI's roles (as an Active Directory subject the pool gave that role): their
   * sessions may call only the messages the datamodel allows that role (RBAC_PERMISSION_DENIED otherwise).
   */
  readonly users?: readonly SimUser[]
}

export interface SimUser {
  readonly name: string
  readonly password: string
  readonly role: (typeof ROLES)[number]
}

export interface SimDisk {
  readonly vdi: string
  readonly uuid: string
  readonly path: string
  readonly size: number
  readonly seed: string
}

const SM_CAPABILITIES = ['SR_PROBE', 'SR_UPDATE', 'SR_SUPPORTS_LOCAL_CACHING', 'VDI_CREATE', 'VDI_DELETE', 'VDI_ATTACH', 'VDI_DETACH', 'VDI_UPDATE', 'VDI_CLONE', 'VDI_SNAPSHOT', 'VDI_RESIZE', 'VDI_MIRROR', 'VDI_GENERATE_CONFIG', 'VDI_RESET_ON_BOOT/2', 'VDI_CONFIG_CBT', 'VDI_ACTIVATE', 'VDI_DEACTIVATE', 'THIN_PROVISIONING', 'ATOMIC_PAUSE']
const SR_OPS = ['scan', 'destroy', 'forget', 'plug', 'unplug', 'update', 'vdi_create', 'vdi_introduce', 'vdi_destroy', 'vdi_resize', 'vdi_clone', 'vdi_snapshot', 'vdi_mirror', 'vdi_enable_cbt', 'vdi_disable_cbt', 'vdi_data_destroy', 'vdi_list_changed_blocks', 'vdi_set_on_boot', 'pbd_create', 'pbd_destroy']

/**
 * A XAPI pool that runs in-process: HTTPS (JSON-RPC and XML-RPC) per host, an NBD server per host, records that
 * follow the published datamodel, real VDI files. Start with startXapiSim(); stop() when done.
 */
export class XapiSim {
  readonly core: SimCore
  readonly vms: VmOps
  readonly vdis: VdiOps
  private readonly servers: (Server | NetServer)[] = []
  private ownsDataDir = false
  port = 0

  private constructor(
    readonly dataDir: string,
    password: string,
    private readonly options: XapiSimOptions,
  ) {
    this.core = new SimCore(new Storage(dataDir), password)
    this.vdis = new VdiOps(this.core)
    this.vms = new VmOps(this.core, this.vdis)
    if (options.dom0VbdHold !== undefined) this.core.faults.dom0VbdHold = { ...options.dom0VbdHold }
    this.core.xapiVersion = options.xapiVersion === undefined ? undefined : checkVersion(options.xapiVersion)
    for (const u of options.users ?? []) {
      if (u.name === this.core.user || !ROLES.includes(u.role)) throw new Error(`The simulator cannot add user ${u.name} with role ${u.role}`)
      this.core.users.set(u.name, { password: u.password, role: u.role })
    }
  }

  static async start(options: XapiSimOptions = {}): Promise<XapiSim> {
    if (options.xapiVersion !== undefined) checkVersion(options.xapiVersion)
    const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'xapi-sim-data-')))
    const sim = new XapiSim(dataDir, options.password ?? randomBytes(9).toString('base64url'), options)
    sim.ownsDataDir = options.dataDir === undefined
    await sim.core.storage.init()
    await sim.build()
    await sim.listen()
    return sim
  }

  get url(): string {
    return `https://${this.core.master.address}:${this.port}`
  }
  get user(): string {
    return this.core.user
  }
  get password(): string {
    return this.core.password
  }
  get fingerprint(): string {
    return this.core.master.fingerprint
  }
  get certificatePem(): string {
    return this.core.master.certPem
  }
  get faults() {
    return this.core.faults
  }
  get stats() {
    return this.core.stats
  }
  get db() {
    return this.core.db
  }

  private async build(): Promise<void> {
    const db = this.core.db
    const address = this.options.address ?? '127.0.0.1'
    const masterCert = selfSigned('xcp-sim-1', address)
    const hostDefs: { name: string; address: string; cert: SelfSigned }[] = [{ name: 'xcp-sim-1', address, cert: masterCert }]
    if (this.options.pool?.slave === true) {
      const slaveAddress = this.options.pool.slaveAddress ?? '127.0.0.2'
      hostDefs.push({ name: 'xcp-sim-2', address: slaveAddress, cert: this.options.pool.sharedCertificate === true ? masterCert : selfSigned('xcp-sim-2', slaveAddress) })
    }
    db.add('SM', {
      name_label: 'Local EXT3 VHD',
      name_description: 'SR plugin which represents disks as VHD files stored on a local EXT3 filesystem, created inside an LVM volume',
      type: 'ext',
      vendor: 'Citrix Systems Inc',
      copyright: '(C) 2008 Citrix Systems Inc',
      version: '1.0',
      required_api_version: '1.0',
      configuration: { device: 'local device path (required) (e.g. /dev/sda3)' },
      capabilities: SM_CAPABILITIES,
      features: Object.fromEntries(SM_CAPABILITIES.map((c) => [c.split('/')[0] ?? c, Number(c.split('/')[1] ?? 1)])),
      driver_filename: '/opt/xensource/sm/EXTSR',
      supported_image_formats: ['vhd'],
    })
    this.core.networkRef = db.add('network', {
      name_label: 'Pool-wide network associated with eth0',
      bridge: 'xenbr0',
      MTU: 1500,
      other_config: { automatic: 'true' },
      purpose: ['nbd'],
      VIFs: [],
      PIFs: [],
    })
    const srs: string[] = []
    for (const def of hostDefs) {
      const metrics = db.add('host_metrics', { memory_total: 32 * 1024 ** 3, live: true, last_updated: xapiTime(), other_config: {} })
      const ref = db.add('host', {
        name_label: def.name,
        hostname: def.name,
        address: def.address,
        API_version_major: 2,
        API_version_minor: 21,
        API_version_vendor: 'XenSource',
        API_version_vendor_implementation: {},
        enabled: true,
        software_version: softwareVersion(this.core.xapiVersion, def.name),
        other_config: {},
        capabilities: ['xen-3.0-x86_64', 'hvm-3.0-x86_64'],
        cpu_configuration: {},
        sched_policy: 'credit',
        supported_bootloaders: ['pygrub', 'eliloader'],
        resident_VMs: [],
        logging: {},
        PIFs: [],
        crashdumps: [],
        patches: [],
        updates: [],
        PBDs: [],
        host_CPUs: [],
        metrics,
        license_params: { sku_type: 'free' },
        edition: 'xcp-ng',
        PCIs: [],
        PGPUs: [],
        PUSBs: [],
        updates_requiring_reboot: [],
        features: [],
        certificates: [],
      })
      const cert = db.add('Certificate', {
        name: '',
        type: 'host',
        host: ref,
        not_before: xapiTime(def.cert.notBefore),
        not_after: xapiTime(def.cert.notAfter),
        fingerprint: def.cert.sha256,
        fingerprint_sha256: def.cert.sha256,
        fingerprint_sha1: def.cert.sha1,
        purpose: [],
      })
      db.set('host', ref, { certificates: [cert] })
      const host: SimHost = { ref, name: def.name, address: def.address, certPem: def.cert.certPem, keyPem: def.cert.keyPem, fingerprint: def.cert.fingerprint, subject: def.cert.subject, nbdPort: 0 }
      this.core.hosts.push(host)
      const sr = db.add('SR', {
        name_label: 'Local storage',
        name_description: `Local storage on ${def.name}`,
        allowed_operations: SR_OPS,
        VDIs: [],
        PBDs: [],
        virtual_allocation: 0,
        physical_utilisation: 0,
        physical_size: this.options.srSize ?? 200 * 1024 ** 3,
        type: 'ext',
        content_type: 'user',
        shared: false,
        other_config: { 'i18n-key': 'local-storage' },
        sm_config: { devserial: 'scsi-sim' },
      })
      const pbd = db.add('PBD', { host: ref, SR: sr, device_config: { device: '/dev/sda3' }, currently_attached: true })
      db.set('SR', sr, { PBDs: [pbd] })
      db.set('host', ref, { PBDs: [pbd], suspend_image_sr: sr, crash_dump_sr: sr })
      srs.push(sr)
      const dom0 = this.vms.create({ name_label: `Control domain on host: ${def.name}`, is_control_domain: true, memory_static_max: 4 * 1024 ** 3, VCPUs_max: 4, VCPUs_at_startup: 4, domain_type: 'pv', user_version: 1 })
      db.set('VM', dom0, { is_control_domain: true })
      this.core.setPower(dom0, 'Running', ref)
      db.set('VM', dom0, { allowed_operations: [] })
      db.set('host', ref, { control_domain: dom0 })
    }
    const master = this.core.master
    this.core.poolRef = db.add('pool', {
      name_label: 'Lifeboat test pool',
      name_description: '',
      master: master.ref,
      default_SR: srs[0] ?? NULL_REF,
      suspend_image_SR: srs[0] ?? NULL_REF,
      crash_dump_SR: srs[0] ?? NULL_REF,
      other_config: {},
      metadata_VDIs: [],
      cpu_info: { vendor: 'GenuineIntel', cpu_count: '8' },
    })
    const template = this.vms.create({ name_label: 'Debian Bookworm 12', name_description: 'To use this template from the CLI, install your VM using vm-install', is_a_template: true, is_default_template: true, memory_static_max: 2 * 1024 ** 3, VCPUs_max: 1, VCPUs_at_startup: 1, domain_type: 'hvm', user_version: 1 })
    db.set('VM', template, { is_a_template: true, allowed_operations: ['clone', 'copy', 'provision', 'destroy', 'export'] })
    for (const vm of this.options.vms ?? []) await this.addVm(typeof vm === 'string' ? { name: vm } : vm)
  }

  /** Adds a VM with disks of known random content (seed "<name>:<disk index>"). */
  async addVm(spec: SimVmSpec): Promise<{ ref: string; uuid: string; disks: SimDisk[] }> {
    const db = this.core.db
    const host = spec.on === 'slave' ? this.core.hosts[1] : this.core.master
    if (host === undefined) throw new Error('there is no slave host (start the simulator with pool.slave)')
    const sr = (db.get('host', host.ref).PBDs as string[]).map((p) => db.get('PBD', p).SR as string)[0] ?? NULL_REF
    const gm = db.add('VM_guest_metrics', {
      os_version: { name: 'Debian GNU/Linux 12 (bookworm)', distro: 'debian', major: '12', minor: '5' },
      PV_drivers_version: { major: '8', minor: '3', micro: '0', build: 'sim' },
      PV_drivers_up_to_date: true,
      PV_drivers_detected: true,
      networks: { '0/ip': '10.0.0.10' },
      other: { 'feature-shutdown': '1', 'feature-suspend': '1', 'has-vendor-device': '0' },
      last_updated: xapiTime(),
      live: false,
      can_use_hotplug_vbd: 'yes',
      can_use_hotplug_vif: 'yes',
    })
    const vm = this.vms.create({
      name_label: spec.name,
      name_description: 'Created by the XAPI simulator',
      user_version: 1,
      memory_static_max: 1024 ** 3,
      memory_dynamic_max: 1024 ** 3,
      memory_dynamic_min: 1024 ** 3,
      memory_static_min: 512 * 1024 ** 2,
      VCPUs_params: {},
      VCPUs_max: 2,
      VCPUs_at_startup: 2,
      actions_after_shutdown: 'destroy',
      actions_after_reboot: 'restart',
      actions_after_crash: 'restart',
      HVM_boot_policy: 'BIOS order',
      HVM_boot_params: { order: 'cdn' },
      platform: { 'device-model': 'qemu-upstream-compat', viridian: 'false', acpi: '1', apic: 'true', pae: 'true', nx: 'true' },
      other_config: { 'base_template_name': 'Debian Bookworm 12', 'install-methods': 'cdrom' },
      affinity: host.ref,
      domain_type: 'hvm',
      has_vendor_device: false,
      recommendations: '',
    })
    db.set('VM', vm, { guest_metrics: gm })
    const disks: SimDisk[] = []
    const size = spec.diskSize ?? this.options.diskSize ?? 16 * 1024 * 1024
    for (let i = 0; i < (spec.disks ?? 1); i++) {
      const seed = `${spec.name}:${i}`
      const vdi = await this.vdis.create({ SR: sr, virtual_size: size, name_label: i === 0 ? `${spec.name} 0` : `${spec.name} ${i}`, name_description: 'Created by the XAPI simulator' }, { seed, content: spec.content ?? this.options.content ?? 'random' })
      this.vms.createVbd({ VM: vm, VDI: vdi, userdevice: String(i), device: `xvd${String.fromCharCode(97 + i)}`, bootable: i === 0, mode: 'RW', type: 'Disk' })
      const uuid = this.vdis.uuidOf(vdi)
      disks.push({ vdi, uuid, path: this.core.storage.path(uuid), size, seed })
    }
    this.vms.createVbd({ VM: vm, VDI: NULL_REF, userdevice: '3', device: 'xvdd', bootable: false, mode: 'RO', type: 'CD', empty: true })
    this.vms.createVif({ VM: vm, network: this.core.networkRef, device: '0', MAC: '', MTU: 1500 })
    if ((spec.powerState ?? 'Running') === 'Running') {
      this.core.setPower(vm, 'Running', host.ref)
      this.vms.setGuestMetrics(vm, true)
    } else this.core.setPower(vm, 'Halted')
    return { ref: vm, uuid: text(db.get('VM', vm).uuid), disks }
  }

  private async listen(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const port = this.options.port ?? 0
      try {
        for (const [i, host] of this.core.hosts.entries()) {
          const vmsOps = this.vms
          const dispatcher = new Dispatcher(this.core, methodTable(this.core, vmsOps, this.vdis, i === 0 ? 'master' : 'slave'))
          const server = await startRpcServer(this.core, host, dispatcher, transferRoutes(this.core, vmsOps, this.vdis, host), i === 0 ? port : this.port)
          this.servers.push(server)
          if (i === 0) {
            const a = server.address()
            this.port = a !== null && typeof a === 'object' ? a.port : port
          }
          const nbd = await startNbdServer(this.core, host, (vdi, on) => this.vdis.holdInDom0(vdi, on))
          this.servers.push(nbd)
        }
        return
      } catch (err) {
        await this.closeServers()
        if (attempt >= 5 || this.options.port !== undefined) throw err
      }
    }
  }

  // ---- for tests and the CLI ------------------------------------------------------------------------------

  vmByName(name: string): { ref: string; record: Record<string, unknown> } {
    const found = this.core.db.all('VM').filter(([, r]) => r.name_label === name && r.is_a_snapshot !== true)
    const first = found[0]
    if (found.length !== 1 || !first) throw new Error(`expected one VM named ${name}, found ${found.length}`)
    return { ref: first[0], record: first[1] }
  }

  /** The live disks of a VM, in userdevice order. */
  disksOf(name: string): SimDisk[] {
    const db = this.core.db
    const vm = this.vmByName(name)
    return (vm.record.VBDs as string[])
      .map((b) => db.get('VBD', b))
      .filter((b) => b.type === 'Disk' && b.VDI !== NULL_REF)
      .sort((a, b) => Number(a.userdevice) - Number(b.userdevice))
      .map((b) => {
        const v = db.get('VDI', b.VDI as string)
        return { vdi: b.VDI as string, uuid: text(v.uuid), path: this.core.storage.path(text(v.uuid)), size: Number(v.virtual_size), seed: `${name}:${text(b.userdevice)}` }
      })
  }

  /** What the guest would write: bytes into a VM's live disk. */
  async writeGuest(vmName: string, disk: number, offset: number, data: Buffer): Promise<void> {
    const d = this.disksOf(vmName)[disk]
    if (!d) throw new Error(`${vmName} has no disk ${disk}`)
    await this.core.storage.write(d.uuid, offset, data)
  }

  /** The bytes a `--vm` disk was created with. */
  static knownBytes(seed: string, offset: number, length: number, content: Content = 'random'): Buffer {
    return content === 'mixed' ? mixedBytes(seed, offset, length) : knownBytes(seed, offset, length)
  }

  /** Every VM (snapshot) and VDI carrying a Lifeboat tag, for "nothing left behind" checks. */
  lifeboatObjects(): { cls: 'VM' | 'VDI'; ref: string; name: string; other: Record<string, string>; type?: string }[] {
    const out: { cls: 'VM' | 'VDI'; ref: string; name: string; other: Record<string, string>; type?: string }[] = []
    for (const cls of ['VM', 'VDI'] as const) {
      for (const [ref, r] of this.core.db.all(cls)) {
        const other = r.other_config as Record<string, string>
        if (Object.keys(other).some((k) => k.startsWith('lifeboat:'))) out.push({ cls, ref, name: text(r.name_label), other, ...(cls === 'VDI' ? { type: text(r.type) } : {}) })
      }
    }
    return out
  }

  setNbd(enabled: boolean): void {
    this.core.faults.nbd = enabled
    this.core.db.set('network', this.core.networkRef, { purpose: enabled ? ['nbd'] : [] })
  }

  expireSessions(): void {
    this.core.expireSessions()
  }

  loseEvents(): void {
    this.core.db.loseEvents()
  }

  private async closeServers(): Promise<void> {
    const servers = this.servers.splice(0)
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            if ('closeAllConnections' in s) s.closeAllConnections()
            else (s as NetServer & { destroyConnections?: () => void }).destroyConnections?.()
            s.close(() => resolve())
          }),
      ),
    )
  }

  async stop(): Promise<void> {
    this.vdis.releaseHeld()
    await this.closeServers()
    if (this.ownsDataDir) await rm(this.dataDir, { recursive: true, force: true })
  }
}

export const startXapiSim = (options?: XapiSimOptions): Promise<XapiSim> => XapiSim.start(options)

/**
 * What host.software_version says for the XAPI the pool plays: XCP-ng 8.2 LTS ships xapi 1.249 (platform 3.2.1, Xen
 * 4.13); anything newer is shown as XCP-ng 8.3 with the played xapi version. The adapter only shows these.
 */
function softwareVersion(played: string | undefined, hostname: string): Record<string, string> {
  const xapi = played === undefined ? '25.6' : played.split('.').slice(0, 2).join('.')
  const old = played !== undefined && Number(played.split('.')[0]) < 2
  return old
    ? { product_brand: 'XCP-ng', product_version: '8.2.1', platform_name: 'XCP', platform_version: '3.2.1', xapi, xen: '4.13.5', hostname }
    : { product_brand: 'XCP-ng', product_version: '8.3.0', platform_name: 'XCP', platform_version: '3.4.0', xapi, xen: '4.17.5', hostname }
}
