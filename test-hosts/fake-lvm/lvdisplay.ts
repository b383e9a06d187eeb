/**
 * `lvdisplay [VG|VG/LV…]`: LVM's multi-line view of active LVs, in creation order. The layout follows LVM 2.03's
 * lvdisplay_full; block device numbers are invented (254:minor) and "Read ahead" is LVM's default.
 */
import { EXIT_FAILED, LvmError, last, parseArgs, type OptionSpec } from './args'
import { checkRoot, lvNotFound, parseLvArg, vgNotFound, type Command } from './common'
import { cowUsedBytes, refreshSnapshots } from './cow'
import { deviceOpen, lvmTime } from './fields'
import { devPath, findVg, snapshotsOf, withState, type FakeLvmConfig, type FakeLvmState, type LvRecord, type VgRecord } from './state'
import { formatPercent, formatSize, isUnitsArg } from './units'

const OPTIONS: readonly OptionSpec[] = [
  { long: 'units', value: true },
  { long: 'all', short: 'a', value: false },
  { long: 'maps', short: 'm', value: false },
  { long: 'readonly', value: false },
]

export const lvdisplay: Command = async (config, argv, io) => {
  const args = parseArgs('lvdisplay', argv, OPTIONS)
  const units = last(args, 'units') ?? 'r'
  if (!isUnitsArg(units)) throw new LvmError(['  Invalid units specification', "  Run `lvdisplay --help' for more information."], 3)
  const targets = args.positional.map((p) => parseLvArg(config, p))
  checkRoot(config, targets.map((t) => t.vg))
  return withState(config, async (state) => {
    await refreshSnapshots(config, state)
    let code = 0
    let shown: LvRecord[] = []
    if (targets.length === 0) shown = [...state.lvs]
    for (const t of targets) {
      if (findVg(state, t.vg) === undefined) {
        vgNotFound(t.vg).forEach(io.err)
        code = EXIT_FAILED
        continue
      }
      const matches = state.lvs.filter((l) => l.vg === t.vg && (t.lv === undefined || l.name === t.lv))
      if (t.lv !== undefined && matches.length === 0) {
        lvNotFound(t.vg, t.lv).forEach(io.err)
        code = EXIT_FAILED
      }
      shown.push(...matches.filter((m) => !shown.includes(m)))
    }
    for (const lv of shown) {
      const vg = findVg(state, lv.vg)
      if (vg !== undefined) describe(config, state, vg, lv, units).forEach(io.out)
    }
    return code
  })
}

function describe(config: FakeLvmConfig, state: FakeLvmState, vg: VgRecord, lv: LvRecord, units: string): string[] {
  const size = (bytes: number) => formatSize(bytes, units, true, 'short')
  const label = (text: string) => `  ${text.padEnd(22)} `
  const snap = lv.snapshot
  const lines = [
    '  --- Logical volume ---',
    `${label('LV Path')}${devPath(config, lv.vg, lv.name)}`,
    `${label('LV Name')}${lv.name}`,
    `${label('VG Name')}${lv.vg}`,
    `${label('LV UUID')}${lv.uuid}`,
    `${label('LV Write Access')}${lv.readOnly ? 'read only' : 'read/write'}`,
    `  LV Creation host, time ${lv.host}, ${lvmTime(lv.createdAt)}`,
  ]
  const snaps = snapshotsOf(state, lv.vg, lv.name)
  if (snaps.length > 0) {
    lines.push(`${label('LV snapshot status')}source of`)
    for (const s of snaps) lines.push(`${' '.repeat(25)}${s.name} [${s.snapshot?.invalid === true ? 'INACTIVE' : 'active'}]`)
  }
  if (snap !== undefined) lines.push(`${label('LV snapshot status')}${snap.invalid ? 'INACTIVE' : 'active'} destination for ${snap.origin}`)
  lines.push(`${label('LV Status')}available`, `${label('# open')}${snap?.invalid !== true && deviceOpen(config, lv) ? 1 : 0}`)
  lines.push(`${label('LV Size')}${size(lv.deviceBytes)}`, `${label('Current LE')}${Math.ceil(lv.deviceBytes / vg.extentSize)}`)
  if (snap !== undefined) {
    lines.push(`${label('COW-table size')}${size(lv.extents * vg.extentSize)}`, `${label('COW-table LE')}${lv.extents}`)
    if (!snap.invalid) lines.push(`${label('Allocated to snapshot')}${formatPercent(cowUsedBytes(snap), lv.extents * vg.extentSize)}%`)
    lines.push(`${label('Snapshot chunk size')}${size(snap.chunkSize)}`)
  }
  lines.push(`${label('Segments')}1`, `${label('Allocation')}inherit`, `${label('Read ahead sectors')}auto`, `${label('- currently set to')}256`)
  lines.push(`${label('Block device')}254:${lv.minor}`, '   ')
  return lines
}
