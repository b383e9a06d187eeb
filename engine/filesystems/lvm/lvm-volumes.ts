import { assertReadInBounds, type BlockSource } from '../../disks/block-source'
import { DiskFormatError } from '../../disks/errors'
import type { LvmPv } from './lvm-label'
import { isSection, type LvmSection, type LvmValue } from './lvm-text'

/** One stretch of a logical volume: `extents` extents striped over `stripes` (one stripe = linear). */
export interface LvSegment {
  readonly startExtent: number
  readonly extents: number
  readonly type: string
  readonly stripeSize: number
  readonly stripes: readonly { readonly pv: string; readonly startExtent: number }[]
}

export interface LogicalVolumeInfo {
  readonly vg: string
  readonly name: string
  readonly uuid: string
  readonly size: number
  readonly segments: readonly LvSegment[]
  /** Why it cannot be read (a missing PV, a thin or RAID segment type, …); absent when it can. */
  readonly problem?: string
}

export interface VolumeGroup {
  readonly name: string
  readonly uuid: string
  readonly extentSize: number
  readonly pvs: readonly { readonly name: string; readonly uuid: string; readonly present: boolean }[]
  readonly lvs: readonly LogicalVolumeInfo[]
}

const MAX_LVS = 4096
const MAX_SEGMENTS = 65536
const SUPPORTED = new Set(['striped', 'linear', 'zero'])

const str = (v: LvmValue | undefined): string => (typeof v === 'string' ? v : '')
const num = (v: LvmValue | undefined): number => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : -1)
const plainUuid = (u: string): string => u.replace(/-/g, '')

interface PvPlacement {
  readonly source: BlockSource
  readonly peStart: number
}

/**
 * Groups physical volumes by volume group (using the metadata copy with the highest seqno) and describes every
 * logical volume. Purely from the on-disk metadata: the host's LVM is never asked and never sees guest names.
 */
export function assembleVolumeGroups(pvs: readonly LvmPv[]): { groups: VolumeGroup[]; open: (vg: string, lv: string) => BlockSource } {
  const byVg = new Map<string, { meta: LvmSection; seqno: number }>()
  for (const pv of pvs) {
    if (!pv.metadata) continue
    for (const [name, v] of Object.entries(pv.metadata)) {
      if (!isSection(v) || !isSection(v.physical_volumes)) continue
      const seqno = num(v.seqno)
      const prev = byVg.get(name)
      if (!prev || seqno > prev.seqno) byVg.set(name, { meta: v, seqno })
    }
  }
  const byUuid = new Map(pvs.map((p) => [plainUuid(p.pvUuid), p]))
  const groups: VolumeGroup[] = []
  const placements = new Map<string, Map<string, PvPlacement>>()
  for (const [vgName, { meta }] of byVg) {
    const extentSize = num(meta.extent_size) * 512
    if (extentSize <= 0) throw new DiskFormatError('corrupt', `LVM volume group ${vgName} has an invalid extent size`)
    const pvList: VolumeGroup['pvs'][number][] = []
    const place = new Map<string, PvPlacement>()
    for (const [pvName, pv] of Object.entries(isSection(meta.physical_volumes) ? meta.physical_volumes : {})) {
      if (!isSection(pv)) continue
      const uuid = str(pv.id)
      const found = byUuid.get(plainUuid(uuid))
      pvList.push({ name: pvName, uuid, present: found !== undefined })
      if (found) place.set(pvName, { source: found.source, peStart: num(pv.pe_start) * 512 })
    }
    placements.set(vgName, place)
    const lvs: LogicalVolumeInfo[] = []
    for (const [lvName, lv] of Object.entries(isSection(meta.logical_volumes) ? meta.logical_volumes : {})) {
      if (!isSection(lv)) continue
      if (lvs.length >= MAX_LVS) throw new DiskFormatError('too-large', `LVM volume group ${vgName} lists too many logical volumes`)
      lvs.push(describeLv(vgName, lvName, lv, extentSize, place))
    }
    groups.push({ name: vgName, uuid: str(meta.id), extentSize, pvs: pvList, lvs })
  }
  const open = (vg: string, lv: string): BlockSource => {
    const group = groups.find((g) => g.name === vg)
    const info = group?.lvs.find((l) => l.name === lv)
    if (!group || !info) throw new DiskFormatError('corrupt', `No logical volume ${vg}/${lv}`)
    if (info.problem) throw new DiskFormatError('unsupported', `${vg}/${lv} cannot be read: ${info.problem}`)
    return new LogicalVolumeSource(info, group.extentSize, placements.get(vg) ?? new Map<string, PvPlacement>())
  }
  return { groups, open }
}

function describeLv(vg: string, name: string, lv: LvmSection, extentSize: number, place: Map<string, PvPlacement>): LogicalVolumeInfo {
  const segments: LvSegment[] = []
  let problem: string | undefined
  const keys = Object.keys(lv).filter((k) => /^segment[0-9]+$/.test(k))
  if (keys.length > MAX_SEGMENTS) throw new DiskFormatError('too-large', `LVM ${vg}/${name} has too many segments`)
  let total = 0
  for (const k of keys) {
    const s = lv[k]
    if (!isSection(s)) continue
    const type = str(s.type)
    const startExtent = num(s.start_extent)
    const extents = num(s.extent_count)
    const stripeCount = type === 'zero' ? 0 : num(s.stripe_count)
    const list = Array.isArray(s.stripes) ? s.stripes : []
    const stripes: LvSegment['stripes'][number][] = []
    for (let i = 0; i + 1 < list.length; i += 2) stripes.push({ pv: str(list[i]), startExtent: num(list[i + 1]) })
    if (!SUPPORTED.has(type)) problem ??= `segment type "${type}" (thin, RAID, mirror, cache, snapshot…) is not supported`
    else if (startExtent < 0 || extents <= 0 || (type !== 'zero' && (stripeCount < 1 || stripes.length !== stripeCount || extents % stripeCount !== 0))) problem ??= `segment ${k} is malformed`
    else if (stripes.some((st) => st.startExtent < 0 || !place.has(st.pv))) problem ??= `a physical volume it uses is missing (${stripes.find((st) => !place.has(st.pv))?.pv ?? '?'})`
    const stripeSize = stripeCount > 1 ? num(s.stripe_size) * 512 : 0
    if (stripeCount > 1 && stripeSize <= 0) problem ??= `segment ${k} has no stripe size`
    segments.push({ startExtent, extents, type, stripeSize, stripes })
    total += Math.max(0, extents)
  }
  segments.sort((a, b) => a.startExtent - b.startExtent)
  let expect = 0
  for (const s of segments) {
    if (s.startExtent !== expect) problem ??= 'its segments leave gaps or overlap'
    expect = s.startExtent + s.extents
  }
  return { vg, name, uuid: str(lv.id), size: total * extentSize, segments, ...(problem !== undefined ? { problem } : {}) }
}

/** Maps LV offsets to PV offsets, segment by segment; striped segments rotate over their stripes. */
class LogicalVolumeSource implements BlockSource {
  readonly size: number
  readonly label: string

  constructor(
    private readonly info: LogicalVolumeInfo,
    private readonly extentSize: number,
    private readonly place: Map<string, PvPlacement>,
  ) {
    this.size = info.size
    this.label = `${info.vg}/${info.name}`
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    assertReadInBounds(this, offset, length)
    const out = Buffer.allocUnsafe(length)
    let pos = 0
    while (pos < length) {
      signal?.throwIfAborted()
      const at = offset + pos
      const seg = this.info.segments.find((s) => at >= s.startExtent * this.extentSize && at < (s.startExtent + s.extents) * this.extentSize)
      if (!seg) throw new DiskFormatError('corrupt', `${this.label}: no segment maps byte ${at}`)
      const inSeg = at - seg.startExtent * this.extentSize
      const segEnd = seg.extents * this.extentSize
      let n: number
      let stripe: LvSegment['stripes'][number] | undefined
      let inStripe: number
      if (seg.type === 'zero') {
        n = Math.min(length - pos, segEnd - inSeg)
        out.fill(0, pos, pos + n)
        pos += n
        continue
      }
      if (seg.stripes.length <= 1) {
        stripe = seg.stripes[0]
        inStripe = inSeg
        n = Math.min(length - pos, segEnd - inSeg)
      } else {
        const chunk = Math.floor(inSeg / seg.stripeSize)
        stripe = seg.stripes[chunk % seg.stripes.length]
        inStripe = Math.floor(chunk / seg.stripes.length) * seg.stripeSize + (inSeg % seg.stripeSize)
        n = Math.min(length - pos, seg.stripeSize - (inSeg % seg.stripeSize))
      }
      const pv = stripe ? this.place.get(stripe.pv) : undefined
      if (!stripe || !pv) throw new DiskFormatError('corrupt', `${this.label}: a stripe's physical volume is missing`)
      const pvOffset = pv.peStart + stripe.startExtent * this.extentSize + inStripe
      if (pvOffset + n > pv.source.size) throw new DiskFormatError('truncated', `${this.label}: data lies beyond the end of physical volume ${stripe.pv}`)
      ;(await pv.source.read(pvOffset, n, signal)).copy(out, pos)
      pos += n
    }
    return out
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}
