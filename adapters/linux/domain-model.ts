import { AdapterError } from '../host-adapter'
import { child, childElements, findAll, parseXml, textOf, XmlError, type XmlElement } from './xml'

export interface DomainDisk {
  /** Guest device name (vda, sdb): how virsh names the disk. */
  readonly target: string
  readonly device: string
  readonly type: string
  /** File path or block device path; undefined for empty drives and network disks. */
  readonly source?: string
  readonly format?: string
  readonly readonly: boolean
  readonly bus?: string
  /** Backing files below the active image, top first (from <backingStore>). */
  readonly backing: readonly { readonly path: string; readonly format?: string; readonly type?: string }[]
}

export interface DomainInfo {
  readonly name: string
  readonly uuid: string
  readonly disks: readonly DomainDisk[]
  readonly agentChannel: boolean
  readonly memoryBytes?: number
  readonly vcpus?: number
}

const MAX_BACKING = 64

/** A VM id as libvirt names the domain (its UUID, lower case); anything else is NOT_FOUND before a command runs. */
export function domainRef(vmId: string): string {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(vmId)) throw new AdapterError('NOT_FOUND', `"${vmId.slice(0, 80)}" is not a libvirt domain UUID.`)
  return vmId.toLowerCase()
}

export function parseDomainXml(xml: string): { root: XmlElement; info: DomainInfo } {
  let root: XmlElement
  try {
    root = parseXml(xml)
  } catch (err) {
    throw new AdapterError('BAD_RESPONSE', `libvirt printed domain XML Lifeboat cannot read: ${err instanceof XmlError ? err.message : String(err)}`)
  }
  if (root.name !== 'domain') throw new AdapterError('BAD_RESPONSE', 'libvirt printed XML that is not a domain.')
  return { root, info: domainInfo(root) }
}

/** The facts Lifeboat uses from a <domain> element (also the one a snapshot's XML embeds). */
export function domainInfo(root: XmlElement): DomainInfo {
  const name = textOf(child(root, 'name'))?.trim() ?? ''
  const uuid = textOf(child(root, 'uuid'))?.trim().toLowerCase() ?? ''
  const disks: DomainDisk[] = []
  for (const d of findAll(root, 'devices/disk')) {
    const target = child(d, 'target')?.attrs.dev
    if (target === undefined || !/^[A-Za-z0-9_-]{1,32}$/.test(target)) continue
    const src = child(d, 'source')
    const type = d.attrs.type ?? 'file'
    const source = src?.attrs.file ?? src?.attrs.dev ?? undefined
    const backing: { path: string; format?: string; type?: string }[] = []
    let bs = child(d, 'backingStore')
    while (bs !== undefined && backing.length < MAX_BACKING) {
      const p = child(bs, 'source')
      const path = p?.attrs.file ?? p?.attrs.dev
      if (path === undefined) break
      const fmt = child(bs, 'format')?.attrs.type
      backing.push({ path, ...(fmt !== undefined ? { format: fmt } : {}), ...(bs.attrs.type !== undefined ? { type: bs.attrs.type } : {}) })
      bs = child(bs, 'backingStore')
    }
    const format = child(d, 'driver')?.attrs.type
    const bus = child(d, 'target')?.attrs.bus
    disks.push({
      target,
      device: d.attrs.device ?? 'disk',
      type,
      ...(source !== undefined ? { source } : {}),
      ...(format !== undefined ? { format } : {}),
      readonly: child(d, 'readonly') !== undefined,
      ...(bus !== undefined ? { bus } : {}),
      backing,
    })
  }
  const agentChannel = findAll(root, 'devices/channel').some((c) => child(c, 'target')?.attrs.name === 'org.qemu.guest_agent.0')
  const mem = child(root, 'memory')
  const memValue = Number(textOf(mem)?.trim())
  const unit = (mem?.attrs.unit ?? 'KiB').toLowerCase()
  const mult: Record<string, number> = { b: 1, bytes: 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3 }
  const vcpus = Number(textOf(child(root, 'vcpu'))?.trim())
  return {
    name,
    uuid,
    disks,
    agentChannel,
    ...(Number.isFinite(memValue) && mult[unit] !== undefined ? { memoryBytes: memValue * (mult[unit] ?? 1) } : {}),
    ...(Number.isInteger(vcpus) && vcpus > 0 ? { vcpus } : {}),
  }
}

/** Disks a backup reads: real disks with a local source. Network disks are refused rather than silently skipped. */
export function backupDisks(info: DomainInfo): DomainDisk[] {
  const out: DomainDisk[] = []
  for (const d of info.disks) {
    if (d.device !== 'disk' && d.device !== 'lun') continue
    if (d.type !== 'file' && d.type !== 'block') {
      throw new AdapterError('NOT_SUPPORTED', `Disk ${d.target} of ${info.name} is a ${d.type} disk; Lifeboat reads file and block-device disks only.`, { disk: d.target, type: d.type })
    }
    if (d.source === undefined) continue
    out.push(d)
  }
  if (out.length === 0) throw new AdapterError('NOT_SUPPORTED', `${info.name} has no disks Lifeboat can read.`)
  return out
}

export { childElements }
