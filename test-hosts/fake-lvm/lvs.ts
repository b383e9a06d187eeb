/** `lvs` and `vgs`: reports over the fake's metadata, with LVM's options, sorting, messages and exit codes. */
import { EXIT_FAILED, EXIT_INVALID_CMD_LINE, LvmError, all, has, last, parseArgs, type OptionSpec, type ParsedArgs } from './args'
import { checkRoot, parseLvArg, validVgName, vgNotFound, lvNotFound, type Command } from './common'
import { refreshSnapshots } from './cow'
import { LV_DEFAULT, LV_REPORT_FIELDS, VG_DEFAULT, VG_FIELDS, type Field, type LvRow, type ReportContext } from './fields'
import { parseSelection, renderReport, selectFields } from './report'
import { findVg, withState, type FakeLvmConfig, type FakeLvmState, type VgRecord } from './state'
import { isUnitsArg } from './units'

const REPORT_OPTIONS: readonly OptionSpec[] = [
  { long: 'options', short: 'o', value: true },
  { long: 'sort', short: 'O', value: true },
  { long: 'select', short: 'S', value: true },
  { long: 'reportformat', value: true },
  { long: 'units', value: true },
  { long: 'nosuffix', value: false },
  { long: 'noheadings', value: false },
  { long: 'headings', value: true },
  { long: 'separator', value: true },
  { long: 'aligned', value: false },
  { long: 'unbuffered', value: false },
  { long: 'binary', value: false },
  { long: 'all', short: 'a', value: false },
  { long: 'readonly', value: false },
  { long: 'ignorelockingfailure', value: false },
  { long: 'ignoreskippedcluster', value: false },
  { long: 'shared', value: false },
  { long: 'foreign', value: false },
  { long: 'rows', value: false },
]

interface ReportSetup {
  readonly ctx: Omit<ReportContext, 'state'>
  readonly json: boolean
  readonly opts: { headings: boolean; separator?: string; aligned: boolean }
}

function setup(command: string, config: FakeLvmConfig, args: ParsedArgs): ReportSetup {
  const format = last(args, 'reportformat') ?? 'basic'
  if (format !== 'basic' && format !== 'json') {
    throw new LvmError([`  Invalid argument for --reportformat: ${format}`, '  Error during parsing of command line.'], EXIT_INVALID_CMD_LINE)
  }
  const units = last(args, 'units') ?? 'r'
  if (!isUnitsArg(units)) throw new LvmError(['  Invalid units specification', `  Run \`${command} --help' for more information.`], EXIT_INVALID_CMD_LINE)
  const separator = last(args, 'separator')
  return {
    ctx: { config, units, suffix: !has(args, 'nosuffix') },
    json: format === 'json',
    opts: { headings: !has(args, 'noheadings') && last(args, 'headings') !== 'none', aligned: has(args, 'aligned'), ...(separator === undefined ? {} : { separator }) },
  }
}

function sortRows<T>(rows: T[], sortArgs: readonly string[], fields: readonly Field<T>[], prefix: string, ctx: ReportContext, defaults: string): T[] {
  const keys = (sortArgs.length > 0 ? sortArgs.join(',') : defaults)
    .split(',')
    .filter((k) => k !== '')
    .map((k) => {
      const desc = k.startsWith('-')
      const name = k.replace(/^[-+]/, '')
      const field = fields.find((f) => f.id === name || f.id === `${prefix}_${name}`)
      if (field === undefined) throw new LvmError([`  Unrecognised field: ${name}`], EXIT_FAILED)
      return { field, desc }
    })
  return [...rows].sort((a, b) => {
    for (const { field, desc } of keys) {
      const x = field.value(a, ctx)
      const y = field.value(b, ctx)
      if (x !== y) return (x < y ? -1 : 1) * (desc ? -1 : 1)
    }
    return 0
  })
}

/** VG names from positional arguments, reporting invalid and missing ones; returns the VGs found and the exit code so far. */
function pickVgs(state: FakeLvmState, names: readonly string[], err: (l: string) => void): { vgs: VgRecord[]; code: number } {
  let code = 0
  const vgs: VgRecord[] = []
  for (const name of [...new Set(names)].sort()) {
    if (!validVgName(name)) {
      err(`  Volume group name "${name}" has invalid characters.`)
      err(`  Cannot process volume group ${name}`)
      code = EXIT_FAILED
      continue
    }
    const vg = findVg(state, name)
    if (vg === undefined) {
      vgNotFound(name).forEach(err)
      code = EXIT_FAILED
    } else vgs.push(vg)
  }
  return { vgs, code }
}

export const lvs: Command = async (config, argv, io) => {
  const args = parseArgs('lvs', argv, REPORT_OPTIONS)
  const { ctx: base, json, opts } = setup('lvs', config, args)
  const targets = args.positional.map((p) => parseLvArg(config, p))
  checkRoot(config, targets.map((t) => t.vg))
  const fields = selectFields(all(args, 'options'), LV_DEFAULT, LV_REPORT_FIELDS, 'lv')
  return withState(config, async (state) => {
    await refreshSnapshots(config, state)
    const ctx: ReportContext = { ...base, state }
    const select = last(args, 'select')
    const keep = select === undefined ? () => true : parseSelection(select, LV_REPORT_FIELDS, 'lv')
    let code = 0
    let rows: LvRow[] = []
    if (targets.length === 0) {
      rows = state.lvs.map((lv) => ({ lv, vg: findVg(state, lv.vg) })).filter((r): r is LvRow => r.vg !== undefined)
    } else {
      const picked = pickVgs(state, targets.map((t) => t.vg), io.err)
      code = picked.code
      for (const vg of picked.vgs) {
        const wanted = targets.filter((t) => t.vg === vg.name)
        const whole = wanted.some((t) => t.lv === undefined)
        for (const t of wanted) {
          if (t.lv !== undefined && !state.lvs.some((l) => l.vg === vg.name && l.name === t.lv)) {
            lvNotFound(vg.name, t.lv).forEach(io.err)
            code = EXIT_FAILED
          }
        }
        for (const lv of state.lvs.filter((l) => l.vg === vg.name && (whole || wanted.some((t) => t.lv === l.name)))) rows.push({ lv, vg })
      }
    }
    rows = sortRows(rows.filter((r) => keep(r, ctx)), all(args, 'sort'), LV_REPORT_FIELDS, 'lv', ctx, 'vg_name,lv_name')
    if (rows.length > 0 || json) renderReport('lv', fields, rows, ctx, { json, ...opts }).forEach(io.out)
    return code
  })
}

export const vgs: Command = async (config, argv, io) => {
  const args = parseArgs('vgs', argv, REPORT_OPTIONS)
  const { ctx: base, json, opts } = setup('vgs', config, args)
  checkRoot(config, args.positional)
  const fields = selectFields(all(args, 'options'), VG_DEFAULT, VG_FIELDS, 'vg')
  return withState(config, async (state) => {
    await refreshSnapshots(config, state)
    const ctx: ReportContext = { ...base, state }
    const select = last(args, 'select')
    const keep = select === undefined ? () => true : parseSelection(select, VG_FIELDS, 'vg')
    const picked = args.positional.length === 0 ? { vgs: state.vgs, code: 0 } : pickVgs(state, args.positional, io.err)
    const rows = sortRows(picked.vgs.filter((v) => keep(v, ctx)), all(args, 'sort'), VG_FIELDS, 'vg', ctx, 'vg_name')
    if (rows.length > 0 || json) renderReport('vg', fields, rows, ctx, { json, ...opts }).forEach(io.out)
    return picked.code
  })
}
