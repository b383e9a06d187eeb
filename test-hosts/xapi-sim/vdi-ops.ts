import { randomUUID } from 'node:crypto'
import type { SimCore } from './core'
import { NULL_REF, type XapiValue, text } from './datamodel-values'
import { xapiTime } from './db'
import { fault } from './errors'
import { Storage, type Content } from './storage'

const VDI_OPS = ['clone', 'copy', 'resize', 'snapshot', 'destroy', 'forget', 'update', 'generate_config', 'enable_cbt', 'disable_cbt', 'data_destroy', 'list_changed_blocks', 'set_on_boot']
/** SR types whose storage manager keeps VHD chains (and so shows sm_config vhd-parent and coalesces). */
const VHD_SRS = new Set(['ext', 'nfs', 'lvm', 'lvmoiscsi', 'lvmohba'])

/**
 * VDIs: creation, snapshots (with the hidden VHD parents a real VHD-based SR keeps, visible as sm_config
 * vhd-parent, coalesced when no longer needed), changed block tracking and its metadata-only snapshots.
 */
export class VdiOps {
  /** CBT chain id of each tracked live VDI; snapshots inherit it. disable_cbt breaks the chain. */
  private readonly cbtChain = new Map<string, string>()

  constructor(private readonly core: SimCore) {}

  private get db() {
    return this.core.db
  }

  private get storage() {
    return this.core.storage
  }

  uuidOf(ref: string): string {
    return this.db.get('VDI', ref).uuid as string
  }

  async create(args: Readonly<Record<string, XapiValue>>, fill?: { seed: string; content?: Content }): Promise<string> {
    const sr = text(args.SR, NULL_REF)
    this.db.get('SR', sr)
    const size = Number(args.virtual_size ?? 0)
    if (!Number.isSafeInteger(size) || size < 0) throw fault('FIELD_TYPE_ERROR', 'virtual_size')
    const uuid = randomUUID()
    await this.storage.create(uuid, size)
    if (fill) await this.storage.fillKnown(uuid, fill.seed, size, fill.content)
    const ref = this.db.add('VDI', {
      uuid,
      name_label: text(args.name_label, ''),
      name_description: text(args.name_description, ''),
      SR: sr,
      virtual_size: size,
      physical_utilisation: fill ? size : 0,
      type: text(args.type, 'user'),
      sharable: args.sharable === true,
      read_only: args.read_only === true,
      other_config: (args.other_config as Record<string, string> | undefined) ?? {},
      storage_lock: false,
      location: uuid,
      managed: true,
      missing: false,
      parent: NULL_REF,
      xenstore_data: (args.xenstore_data as Record<string, string> | undefined) ?? {},
      sm_config: (args.sm_config as Record<string, string> | undefined) ?? {},
      tags: (args.tags as string[] | undefined) ?? [],
      allowed_operations: VDI_OPS,
      VBDs: [],
      crash_dumps: [],
      snapshots: [],
      on_boot: 'persist',
      allow_caching: false,
      metadata_of_pool: NULL_REF,
      is_tools_iso: false,
    })
    this.db.addTo('SR', sr, 'VDIs', ref)
    this.updateSrUsage(sr)
    return ref
  }

  updateSrUsage(sr: string): void {
    let used = 0
    let allocated = 0
    for (const [, v] of this.db.all('VDI')) {
      if (v.SR !== sr || v.managed !== true) continue
      allocated += Number(v.virtual_size)
      used += Number(v.physical_utilisation)
    }
    this.db.set('SR', sr, { physical_utilisation: used, virtual_allocation: allocated })
  }

  private vhdBased(vdi: Record<string, XapiValue>): boolean {
    const sr = this.db.find('SR', vdi.SR as string)
    return sr !== undefined && VHD_SRS.has(text(sr.type))
  }

  /** Number of hidden VHD parents above a VDI (what "chain length" means to an admin). */
  chainDepth(ref: string): number {
    let depth = 0
    let parent = (this.db.get('VDI', ref).sm_config as Record<string, string>)['vhd-parent']
    const seen = new Set<string>()
    while (parent !== undefined && !seen.has(parent) && depth < 1000) {
      seen.add(parent)
      depth++
      const p = this.db.all('VDI').find(([, v]) => v.uuid === parent)
      parent = p === undefined ? undefined : (p[1].sm_config as Record<string, string>)['vhd-parent']
    }
    return depth
  }

  async snapshot(ref: string, extraOther: Record<string, string> = {}): Promise<string> {
    const src = this.db.get('VDI', ref)
    if (src.type === 'cbt_metadata') throw fault('VDI_INCOMPATIBLE_TYPE', ref, 'cbt_metadata')
    const uuid = randomUUID()
    await this.storage.clone(src.uuid as string, uuid)
    const sm = { ...(src.sm_config as Record<string, string>) }
    if (this.vhdBased(src)) {
      // The live VDI's data becomes a read-only hidden parent shared by the live VDI and the new snapshot.
      const baseUuid = randomUUID()
      this.db.add('VDI', {
        uuid: baseUuid,
        name_label: 'base copy',
        SR: src.SR as string,
        virtual_size: src.virtual_size as number,
        physical_utilisation: 0,
        type: 'user',
        read_only: true,
        managed: false,
        location: baseUuid,
        sm_config: sm['vhd-parent'] !== undefined ? { 'vhd-parent': sm['vhd-parent'] } : {},
        allowed_operations: [],
        on_boot: 'persist',
        VBDs: [],
        crash_dumps: [],
        snapshots: [],
        other_config: {},
      })
      sm['vhd-parent'] = baseUuid
      this.db.set('VDI', ref, { sm_config: { ...(src.sm_config as Record<string, string>), 'vhd-parent': baseUuid } })
    }
    const snap = this.db.add('VDI', {
      uuid,
      name_label: src.name_label as string,
      name_description: src.name_description as string,
      SR: src.SR as string,
      virtual_size: src.virtual_size as number,
      physical_utilisation: src.physical_utilisation as number,
      type: src.type as string,
      sharable: false,
      read_only: false,
      other_config: { ...(src.other_config as Record<string, string>), ...extraOther },
      location: uuid,
      managed: true,
      sm_config: sm,
      is_a_snapshot: true,
      snapshot_of: ref,
      snapshot_time: xapiTime(),
      cbt_enabled: src.cbt_enabled as boolean,
      allowed_operations: VDI_OPS,
      on_boot: 'persist',
      VBDs: [],
      crash_dumps: [],
      snapshots: [],
    })
    this.db.addTo('VDI', ref, 'snapshots', snap)
    this.db.addTo('SR', src.SR as string, 'VDIs', snap)
    const chain = this.cbtChain.get(src.uuid as string)
    if (src.cbt_enabled === true && chain !== undefined) await this.storage.trackNow(uuid, chain)
    this.updateSrUsage(src.SR as string)
    return snap
  }

  /**
   * VDI.copy into an existing VDI (into_vdi): its bytes become the source's, or, with a base, only the blocks where
   * the source differs from the base are written (the "copy the block differences" of the datamodel).
   */
  async copyInto(ref: string, into: string, base?: string): Promise<string> {
    const src = this.db.get('VDI', ref)
    const target = this.db.get('VDI', into)
    const size = src.virtual_size as number
    if ((target.virtual_size as number) < size) throw fault('VDI_TOO_SMALL', into, text(size), text(target.virtual_size))
    if (target.read_only === true) throw fault('VDI_READONLY', into)
    if (this.attachedToRunning(into)) throw fault('VDI_IN_USE', into, 'copy')
    const baseUuid = base === undefined ? undefined : (this.db.get('VDI', base).uuid as string)
    const piece = 1024 * 1024
    for (let at = 0; at < size; at += piece) {
      const length = Math.min(piece, size - at)
      const data = await this.storage.read(src.uuid as string, at, length)
      if (baseUuid !== undefined && data.equals(await this.storage.read(baseUuid, at, length))) continue
      await this.storage.write(target.uuid as string, at, data)
    }
    return into
  }

  /** A writable copy (revert, VM.copy): a new VDI with the same bytes. */
  async clone(ref: string): Promise<string> {
    const src = this.db.get('VDI', ref)
    const copy = await this.create({ SR: src.SR as string, virtual_size: src.virtual_size as number, name_label: src.name_label as string, name_description: src.name_description as string, type: src.type === 'suspend' ? 'suspend' : 'user' })
    await this.storage.remove(this.uuidOf(copy))
    await this.storage.clone(src.uuid as string, this.uuidOf(copy))
    this.db.set('VDI', copy, { physical_utilisation: src.physical_utilisation as number })
    return copy
  }

  /**
   * The VBD a transfer plugs into the host's control domain to reach the VDI (xapi-nbd, and xapi's
   * Sm_fs_ops.with_block_attached_device for /export_raw_vdi and /import_raw_vdi). Its unplug and destroy finish a
   * moment after the client saw the transfer end, so VDI.destroy right after answers VDI_IN_USE (xapi_vdi.ml
   * data_destroy waits up to 4 s for the VDI's VBDs to go; destroy does not wait).
   */
  holdInDom0(vdiRef: string, hostRef: string): void {
    const dom0 = this.db.find('host', hostRef)?.control_domain as string | undefined
    if (dom0 === undefined || dom0 === NULL_REF || !this.db.has('VDI', vdiRef)) return
    const ref = this.db.add('VBD', {
      VM: dom0,
      VDI: vdiRef,
      userdevice: String((this.db.get('VM', dom0).VBDs as string[]).length),
      device: '',
      bootable: false,
      mode: 'RO',
      type: 'Disk',
      unpluggable: true,
      storage_lock: false,
      empty: false,
      other_config: {},
      currently_attached: true,
      status_code: 0,
      status_detail: '',
      runtime_properties: {},
      qos_algorithm_type: '',
      qos_algorithm_params: {},
      qos_supported_algorithms: [],
      allowed_operations: ['unplug'],
    })
    this.db.addTo('VM', dom0, 'VBDs', ref)
    this.db.addTo('VDI', vdiRef, 'VBDs', ref)
    const { minMs, maxMs } = this.core.faults.dom0VbdHold
    const release = () => {
      clearTimeout(timer)
      this.held.delete(release)
      if (!this.db.has('VBD', ref)) return
      this.db.removeFrom('VM', dom0, 'VBDs', ref)
      if (this.db.has('VDI', vdiRef)) this.db.removeFrom('VDI', vdiRef, 'VBDs', ref)
      this.db.delete('VBD', ref)
    }
    const timer = setTimeout(release, minMs + Math.random() * Math.max(0, maxMs - minMs))
    timer.unref()
    this.held.add(release)
  }

  /** Unplugs and destroys every dom0 VBD still held now (a test that goes behind the adapter's back; stop()). */
  releaseHeld(): void {
    for (const release of [...this.held]) release()
  }

  private readonly held = new Set<() => void>()

  /** Plugged into a guest (a VBD of a VM that is not a control domain). */
  attachedToRunning(ref: string): boolean {
    return this.pluggedVbds(ref).some((b) => this.db.find('VM', b.VM as string)?.is_control_domain !== true)
  }

  /** Plugged anywhere, a transfer's dom0 VBD included: VDI.destroy and VDI.data_destroy refuse (VDI_IN_USE). */
  private inUse(ref: string): boolean {
    return this.pluggedVbds(ref).length > 0
  }

  private pluggedVbds(ref: string) {
    return (this.db.get('VDI', ref).VBDs as string[]).map((vbd) => this.db.find('VBD', vbd)).filter((b) => b?.currently_attached === true).map((b) => b as NonNullable<typeof b>)
  }

  async destroy(ref: string): Promise<void> {
    const vdi = this.db.get('VDI', ref)
    if (this.inUse(ref)) throw fault('VDI_IN_USE', ref, 'destroy')
    for (const vbd of vdi.VBDs as string[]) {
      const r = this.db.find('VBD', vbd)
      if (r) {
        this.db.removeFrom('VM', r.VM as string, 'VBDs', vbd)
        this.db.delete('VBD', vbd)
      }
    }
    await this.storage.remove(vdi.uuid as string)
    this.storage.forgetCbt(vdi.uuid as string)
    this.cbtChain.delete(vdi.uuid as string)
    const of = vdi.snapshot_of as string
    if (of !== NULL_REF) this.db.removeFrom('VDI', of, 'snapshots', ref)
    for (const s of vdi.snapshots as string[]) if (this.db.has('VDI', s)) this.db.set('VDI', s, { snapshot_of: NULL_REF })
    this.db.removeFrom('SR', vdi.SR as string, 'VDIs', ref)
    this.db.delete('VDI', ref)
    this.coalesce((vdi.sm_config as Record<string, string>)['vhd-parent'])
    this.updateSrUsage(vdi.SR as string)
  }

  /** Merges a hidden parent into its only remaining child with data (what the SR's garbage collector does). */
  private coalesce(parentUuid: string | undefined): void {
    if (parentUuid === undefined) return
    const parent = this.db.all('VDI').find(([, v]) => v.uuid === parentUuid && v.managed === false)
    if (!parent) return
    const children = this.db.all('VDI').filter(([, v]) => (v.sm_config as Record<string, string>)['vhd-parent'] === parentUuid)
    const withData = children.filter(([, v]) => v.type !== 'cbt_metadata')
    if (withData.length > 1) return
    const grand = (parent[1].sm_config as Record<string, string>)['vhd-parent']
    for (const [ref, v] of children) {
      const sm = { ...(v.sm_config as Record<string, string>) }
      if (grand !== undefined) sm['vhd-parent'] = grand
      else delete sm['vhd-parent']
      this.db.set('VDI', ref, { sm_config: sm })
    }
    this.db.removeFrom('SR', parent[1].SR as string, 'VDIs', parent[0])
    this.db.delete('VDI', parent[0])
    this.coalesce(grand)
  }

  enableCbt(ref: string): void {
    const vdi = this.db.get('VDI', ref)
    if (vdi.type === 'cbt_metadata') throw fault('VDI_INCOMPATIBLE_TYPE', ref, 'cbt_metadata')
    const sr = this.db.get('SR', vdi.SR as string)
    if (!(sr.allowed_operations as string[]).includes('vdi_enable_cbt')) throw fault('SR_OPERATION_NOT_SUPPORTED', vdi.SR as string)
    if (vdi.cbt_enabled === true && this.cbtChain.has(vdi.uuid as string)) return
    this.cbtChain.set(vdi.uuid as string, randomUUID())
    this.db.set('VDI', ref, { cbt_enabled: true })
  }

  disableCbt(ref: string): void {
    const vdi = this.db.get('VDI', ref)
    this.cbtChain.delete(vdi.uuid as string)
    this.db.set('VDI', ref, { cbt_enabled: false })
  }

  /**
   * What the storage manager does when it activates a VDI whose changed block tracking log was left inconsistent by a
   * host crash: it disables CBT on the VDI (raising the VDI_CBT_METADATA_INCONSISTENT alert), so cbt_enabled turns
   * false and the log is gone; metadata snapshots taken before no longer compare with anything taken after.
   */
  crashResetCbt(ref: string): void {
    const vdi = this.db.get('VDI', ref)
    if (vdi.cbt_enabled !== true) return
    this.disableCbt(ref)
  }

  /**
   * Changed block tracking disabled and enabled again (by an admin, another tool, or re-enabled after a crash reset):
   * cbt_enabled is true again but the VDI has a new log, which older metadata snapshots do not share.
   */
  restartCbt(ref: string): void {
    this.disableCbt(ref)
    this.enableCbt(ref)
  }

  async listChangedBlocks(from: string, to: string): Promise<string> {
    const a = this.db.get('VDI', from)
    const b = this.db.get('VDI', to)
    const refuse = this.core.faults.refuseChangedBlocks
    if (refuse !== undefined) {
      this.core.faults.refuseChangedBlocks = undefined
      throw fault(refuse.code, ...(refuse.params.length > 0 ? refuse.params : [from]))
    }
    if (this.attachedToRunning(to)) throw fault('VDI_IN_USE', to, 'list_changed_blocks')
    const fromCbt = this.core.storage.cbtOf(a.uuid as string)
    if (fromCbt === undefined) throw fault('VDI_NO_CBT_METADATA', from)
    let toCbt = this.core.storage.cbtOf(b.uuid as string)
    if (toCbt === undefined) {
      const chain = this.cbtChain.get(b.uuid as string)
      if (chain === undefined || b.cbt_enabled !== true) throw fault('VDI_NO_CBT_METADATA', to)
      toCbt = { chain, digests: await this.storage.digests(b.uuid as string) }
    }
    if (fromCbt.chain !== toCbt.chain) throw fault('SR_BACKEND_FAILURE_460', '', 'Failed to calculate changed blocks for given VDIs.', '')
    return Storage.changedBitmap(fromCbt.digests, toCbt.digests).toString('base64')
  }

  async dataDestroy(ref: string): Promise<void> {
    const vdi = this.db.get('VDI', ref)
    if (vdi.type === 'cbt_metadata') return
    if (vdi.cbt_enabled !== true || this.storage.cbtOf(vdi.uuid as string) === undefined) throw fault('VDI_NO_CBT_METADATA', ref)
    if (vdi.is_a_snapshot !== true) throw fault('VDI_INCOMPATIBLE_TYPE', ref, text(vdi.type))
    for (const until = Date.now() + 4000; this.inUse(ref) && Date.now() < until; ) await new Promise((r) => setTimeout(r, 100))
    if (this.inUse(ref)) throw fault('VDI_IN_USE', ref, 'data_destroy')
    await this.storage.remove(vdi.uuid as string)
    this.db.set('VDI', ref, { type: 'cbt_metadata', physical_utilisation: 0, allowed_operations: ['destroy', 'list_changed_blocks', 'data_destroy'] })
    this.coalesce((vdi.sm_config as Record<string, string>)['vhd-parent'])
    this.updateSrUsage(vdi.SR as string)
  }

  nbdInfo(ref: string, sessionRef: string): Record<string, XapiValue>[] {
    const vdi = this.db.get('VDI', ref)
    if (vdi.type === 'cbt_metadata') throw fault('VDI_INCOMPATIBLE_TYPE', ref, 'cbt_metadata')
    const net = this.db.find('network', this.core.networkRef)
    if (!this.core.faults.nbd || net === undefined || !(net.purpose as string[]).includes('nbd')) return []
    const host = this.core.hostOfSr(vdi.SR as string)
    const entry = (address: string, port: number) => this.db.model.newRecord('vdi_nbd_server_info', { exportname: `/${text(vdi.uuid)}?session_id=${sessionRef}`, address, port, cert: host.certPem, subject: host.subject })
    // XAPI lists one entry per address of each host that can serve the VDI; not every one need be reachable.
    return [...(this.core.faults.nbdUnreachableFirst ? [entry(host.address, 1)] : []), entry(host.address, host.nbdPort)]
  }
}
