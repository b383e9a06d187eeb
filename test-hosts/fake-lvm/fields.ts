/**
 * The lvs/vgs report fields the fake knows, with LVM 2.03's ids, headings, alignment and minimum widths
 * (lib/report/columns.h), and values computed from the fake's metadata the way lib/report/report.c does.
 */
import { readdirSync, readlinkSync } from 'node:fs'
import { cowUsedBytes } from './cow'
import { dataFile, devPath, dmPath, freeExtents, isOrigin, type FakeLvmConfig, type FakeLvmState, type LvRecord, type VgRecord } from './state'
import { formatPercent, formatSize } from './units'

export interface ReportContext {
  readonly config: FakeLvmConfig
  readonly state: FakeLvmState
  readonly units: string
  readonly suffix: boolean
}

export interface Field<T> {
  readonly id: string
  readonly heading: string
  readonly align: 'left' | 'right'
  readonly width: number
  value(row: T, ctx: ReportContext): string
}

export interface LvRow {
  readonly lv: LvRecord
  readonly vg: VgRecord
}

const size = (bytes: number, ctx: ReportContext) => formatSize(bytes, ctx.units, ctx.suffix)
const lvBytes = (r: LvRow) => r.lv.extents * r.vg.extentSize

/** LVM's lv_time: local time with numeric zone, e.g. "2026-11-22 00:21:16 +0000". */
export function lvmTime(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000)
  const p = (n: number) => String(n).padStart(2, '0')
  const offset = -d.getTimezoneOffset()
  const zone = `${offset >= 0 ? '+' : '-'}${p(Math.floor(Math.abs(offset) / 60))}${p(Math.abs(offset) % 60)}`
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${zone}`
}

/** Whether any process holds the LV's data file open (what dm's open count tells real LVM). */
export function deviceOpen(config: FakeLvmConfig, lv: LvRecord): boolean {
  return openFiles().has(dataFile(config, lv.vg, lv.name))
}

let openFilesCache: { at: number; files: Set<string> } | undefined

/** Every file some other process has open, from /proc/<pid>/fd; one scan serves a whole report. */
function openFiles(): Set<string> {
  if (openFilesCache !== undefined && Date.now() - openFilesCache.at < 500) return openFilesCache.files
  const files = new Set<string>()
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${pid}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      try {
        files.add(readlinkSync(`/proc/${pid}/fd/${fd}`))
      } catch {
        // the descriptor closed meanwhile
      }
    }
  }
  openFilesCache = { at: Date.now(), files }
  return files
}

/** lv_attr, the ten characters of lib/metadata/lv.c lv_attr_dup for the LV kinds the fake has. */
export function lvAttr(r: LvRow, ctx: ReportContext): string {
  const snap = r.lv.snapshot
  const type = snap !== undefined ? 's' : isOrigin(ctx.state, r.lv) ? 'o' : '-'
  const perm = r.lv.readOnly ? 'r' : 'w'
  const stateChar = snap?.invalid === true ? 'I' : 'a'
  const open = snap?.invalid !== true && deviceOpen(ctx.config, r.lv) ? 'o' : '-'
  const target = type === '-' ? '-' : 's'
  return `${type}${perm}i-${stateChar}${open}${target}---`
}

function dataPercent(r: LvRow): string {
  const snap = r.lv.snapshot
  if (snap === undefined) return ''
  if (snap.invalid) return '100.00'
  return formatPercent(cowUsedBytes(snap), lvBytes(r))
}

export const LV_FIELDS: readonly Field<LvRow>[] = [
  { id: 'lv_name', heading: 'LV', align: 'left', width: 4, value: (r) => r.lv.name },
  { id: 'vg_name', heading: 'VG', align: 'left', width: 4, value: (r) => r.vg.name },
  { id: 'lv_attr', heading: 'Attr', align: 'left', width: 4, value: lvAttr },
  { id: 'lv_size', heading: 'LSize', align: 'right', width: 5, value: (r, c) => size(lvBytes(r), c) },
  { id: 'pool_lv', heading: 'Pool', align: 'left', width: 4, value: () => '' },
  { id: 'origin', heading: 'Origin', align: 'left', width: 6, value: (r) => r.lv.snapshot?.origin ?? '' },
  { id: 'origin_size', heading: 'OSize', align: 'right', width: 5, value: (r, c) => (r.lv.snapshot !== undefined ? size(r.lv.deviceBytes, c) : '') },
  { id: 'data_percent', heading: 'Data%', align: 'right', width: 6, value: dataPercent },
  { id: 'snap_percent', heading: 'Snap%', align: 'right', width: 6, value: dataPercent },
  { id: 'metadata_percent', heading: 'Meta%', align: 'right', width: 6, value: () => '' },
  { id: 'move_pv', heading: 'Move', align: 'left', width: 4, value: () => '' },
  { id: 'mirror_log', heading: 'Log', align: 'left', width: 3, value: () => '' },
  { id: 'copy_percent', heading: 'Cpy%Sync', align: 'right', width: 8, value: () => '' },
  { id: 'sync_percent', heading: 'Cpy%Sync', align: 'right', width: 8, value: () => '' },
  { id: 'convert_lv', heading: 'Convert', align: 'left', width: 7, value: () => '' },
  { id: 'lv_path', heading: 'Path', align: 'left', width: 4, value: (r, c) => devPath(c.config, r.vg.name, r.lv.name) },
  { id: 'lv_dm_path', heading: 'DMPath', align: 'left', width: 6, value: (r, c) => dmPath(c.config, r.vg.name, r.lv.name) },
  { id: 'lv_full_name', heading: 'LV', align: 'left', width: 4, value: (r) => `${r.vg.name}/${r.lv.name}` },
  { id: 'lv_uuid', heading: 'LV UUID', align: 'left', width: 38, value: (r) => r.lv.uuid },
  { id: 'lv_tags', heading: 'LV Tags', align: 'left', width: 7, value: (r) => r.lv.tags.join(',') },
  { id: 'lv_active', heading: 'Active', align: 'left', width: 6, value: () => 'active' },
  { id: 'lv_time', heading: 'CTime', align: 'left', width: 26, value: (r) => lvmTime(r.lv.createdAt) },
  { id: 'lv_host', heading: 'Host', align: 'left', width: 10, value: (r) => r.lv.host },
  { id: 'seg_count', heading: '#Seg', align: 'right', width: 4, value: () => '1' },
  { id: 'segtype', heading: 'Type', align: 'left', width: 4, value: () => 'linear' },
  { id: 'chunk_size', heading: 'Chunk', align: 'right', width: 5, value: (r, c) => size(r.lv.snapshot?.chunkSize ?? 0, c) },
  { id: 'lv_snapshot_invalid', heading: 'SnapInvalid', align: 'left', width: 11, value: (r) => (r.lv.snapshot?.invalid === true ? 'snapshot invalid' : '') },
  { id: 'lv_device_open', heading: 'DevOpen', align: 'left', width: 7, value: (r, c) => (deviceOpen(c.config, r.lv) ? 'open' : '') },
  { id: 'lv_permissions', heading: 'LPerms', align: 'left', width: 6, value: (r) => (r.lv.readOnly ? 'read-only' : 'writeable') },
  { id: 'lv_kernel_major', heading: 'KMaj', align: 'right', width: 4, value: (r) => (r.lv.snapshot?.invalid === true ? '-1' : '254') },
  { id: 'lv_kernel_minor', heading: 'KMin', align: 'right', width: 4, value: (r) => (r.lv.snapshot?.invalid === true ? '-1' : String(r.lv.minor)) },
]

export const LV_DEFAULT = ['lv_name', 'vg_name', 'lv_attr', 'lv_size', 'pool_lv', 'origin', 'data_percent', 'metadata_percent', 'move_pv', 'mirror_log', 'copy_percent', 'convert_lv']

const vgLvs = (vg: VgRecord, ctx: ReportContext) => ctx.state.lvs.filter((l) => l.vg === vg.name)

export const VG_FIELDS: readonly Field<VgRecord>[] = [
  { id: 'vg_name', heading: 'VG', align: 'left', width: 4, value: (v) => v.name },
  { id: 'pv_count', heading: '#PV', align: 'right', width: 3, value: () => '1' },
  { id: 'lv_count', heading: '#LV', align: 'right', width: 3, value: (v, c) => String(vgLvs(v, c).length) },
  { id: 'snap_count', heading: '#SN', align: 'right', width: 3, value: (v, c) => String(vgLvs(v, c).filter((l) => l.snapshot !== undefined).length) },
  { id: 'vg_attr', heading: 'Attr', align: 'left', width: 5, value: () => 'wz--n-' },
  { id: 'vg_size', heading: 'VSize', align: 'right', width: 5, value: (v, c) => size(v.extentCount * v.extentSize, c) },
  { id: 'vg_free', heading: 'VFree', align: 'right', width: 5, value: (v, c) => size(freeExtents(c.state, v) * v.extentSize, c) },
  { id: 'vg_uuid', heading: 'VG UUID', align: 'left', width: 38, value: (v) => v.uuid },
  { id: 'vg_extent_size', heading: 'Ext', align: 'right', width: 3, value: (v, c) => size(v.extentSize, c) },
  { id: 'vg_extent_count', heading: '#Ext', align: 'right', width: 4, value: (v) => String(v.extentCount) },
  { id: 'vg_free_count', heading: 'Free', align: 'right', width: 4, value: (v, c) => String(freeExtents(c.state, v)) },
  { id: 'vg_tags', heading: 'VG Tags', align: 'left', width: 7, value: (v) => v.tags.join(',') },
  { id: 'vg_seqno', heading: 'Seq', align: 'right', width: 3, value: (v) => String(v.seqno) },
]

export const VG_DEFAULT = ['vg_name', 'pv_count', 'lv_count', 'snap_count', 'vg_attr', 'vg_size', 'vg_free']

/** VG fields are reportable from lvs too (`lvs -o +vg_free`). */
export const LV_REPORT_FIELDS: readonly Field<LvRow>[] = [
  ...LV_FIELDS,
  ...VG_FIELDS.filter((f) => !LV_FIELDS.some((l) => l.id === f.id)).map((f) => ({ ...f, value: (r: LvRow, c: ReportContext) => f.value(r.vg, c) })),
]
