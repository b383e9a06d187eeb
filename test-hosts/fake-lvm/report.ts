/**
 * lvs/vgs report output byte for byte as LVM 2.03 prints it: the aligned "basic" table (two-space indent, headings
 * left-aligned, numbers right-aligned, every column padded) and `--reportformat json` (two-space indent, four-space
 * nesting, one row per line, every value a string).
 */
import { EXIT_FAILED, EXIT_INVALID_CMD_LINE, LvmError } from './args'
import type { Field, ReportContext } from './fields'

export interface ReportOptions {
  readonly json: boolean
  readonly headings: boolean
  readonly separator?: string
  readonly aligned: boolean
}

/** Applies `-o` arguments (replace, `+add`, `-remove`) to the default columns and resolves them to fields. */
export function selectFields<T>(args: readonly string[], defaults: readonly string[], known: readonly Field<T>[], prefix: string): Field<T>[] {
  let names = [...defaults]
  let replaced = false
  for (const arg of args) {
    if (arg.startsWith('+')) names.push(...split(arg.slice(1)))
    else if (arg.startsWith('-')) {
      const drop = new Set(split(arg.slice(1)).map((n) => resolve(n, known, prefix).id))
      names = names.filter((n) => !drop.has(n))
    } else if (!replaced) {
      names = split(arg)
      replaced = true
    } else names.push(...split(arg))
  }
  return names.map((n) => resolve(n, known, prefix))
}

const split = (list: string): string[] =>
  list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')

function resolve<T>(name: string, known: readonly Field<T>[], prefix: string): Field<T> {
  const field = known.find((f) => f.id === name) ?? known.find((f) => f.id === `${prefix}_${name}`)
  if (field === undefined) throw new LvmError([`  Unrecognised field: ${name}`], EXIT_FAILED)
  return field
}

/** `-S|--select`: clauses `field=value`, `field!=value` joined by `&&` or `,` (list fields match by membership). */
export function parseSelection<T>(text: string, known: readonly Field<T>[], prefix: string): (row: T, ctx: ReportContext) => boolean {
  const clauses = text
    .split(/&&|,/)
    .map((c) => c.trim())
    .filter((c) => c !== '')
    .map((clause) => {
      const m = /^([a-z_]+)\s*(!=|=)\s*(?:"([^"]*)"|'([^']*)'|(\S*))$/.exec(clause)
      if (m === null) {
        throw new LvmError([`  fake-lvm: selection "${clause}" is not emulated (only field=value and field!=value joined by &&).`], EXIT_INVALID_CMD_LINE)
      }
      const field = resolve(m[1] ?? '', known, prefix)
      const wanted = m[3] ?? m[4] ?? m[5] ?? ''
      const isList = field.id.endsWith('_tags')
      return { field, negate: m[2] === '!=', wanted, isList }
    })
  return (row, ctx) =>
    clauses.every(({ field, negate, wanted, isList }) => {
      const value = field.value(row, ctx)
      const match = isList ? value.split(',').includes(wanted) : value === wanted
      return match !== negate
    })
}

export function renderReport<T>(kind: string, fields: readonly Field<T>[], rows: readonly T[], ctx: ReportContext, opts: ReportOptions): string[] {
  const values = rows.map((row) => fields.map((f) => f.value(row, ctx)))
  if (opts.json) return renderJson(kind, fields, values)
  const lines: string[] = []
  if (opts.separator !== undefined && !opts.aligned) {
    if (opts.headings) lines.push(`  ${fields.map((f) => f.heading).join(opts.separator)}`)
    for (const row of values) lines.push(`  ${row.join(opts.separator)}`)
    return lines
  }
  const widths = fields.map((f, i) => Math.max(f.width, f.heading.length, ...values.map((row) => (row[i] ?? '').length)))
  const separator = opts.separator ?? ' '
  if (opts.headings) lines.push(`  ${fields.map((f, i) => f.heading.padEnd(widths[i] ?? 0)).join(separator)}`)
  for (const row of values) {
    lines.push(`  ${fields.map((f, i) => (f.align === 'right' ? (row[i] ?? '').padStart(widths[i] ?? 0) : (row[i] ?? '').padEnd(widths[i] ?? 0))).join(separator)}`)
  }
  return lines
}

function renderJson<T>(kind: string, fields: readonly Field<T>[], values: readonly string[][]): string[] {
  const row = (v: readonly string[]) => `{${fields.map((f, i) => `${JSON.stringify(f.id)}:${JSON.stringify(v[i] ?? '')}`).join(', ')}}`
  return [
    '  {',
    '      "report": [',
    '          {',
    `              "${kind}": [`,
    ...values.map((v, i) => `                  ${row(v)}${i < values.length - 1 ? ',' : ''}`),
    '              ]',
    '          }',
    '      ]',
    '  }',
  ]
}
