/**
 * LVM's size and percentage arithmetic, ported from LVM2 2.03 (tools/lvmcmdline.c `_size_arg`, libdm
 * `dm_size_to_string`, `dm_make_percent`, `dm_percent_to_round_float`) so that the fake prints exactly what the real
 * commands print: "100.00m", "<1.82t", "104857600B", "0 ", "0.01", "100.00".
 */

export const SECTOR = 512

export class SizeArgError extends Error {}

/**
 * `-L|--size` argument → bytes. Units are case-insensitive powers of 1024 (b = bytes, s = 512-byte sectors); no unit
 * means `defaultUnit`. Like LVM, a byte count must be a multiple of 512.
 */
export function parseSizeArg(text: string, defaultUnit = 'm'): number {
  const match = /^([0-9]*\.?[0-9]+|[0-9]+\.)([a-zA-Z]?)$/.exec(text)
  if (match === null) {
    if (!/^[0-9.]/.test(text)) throw new SizeArgError('Size requires number argument.')
    throw new SizeArgError('')
  }
  const value = Number.parseFloat(match[1] ?? '')
  const unit = (match[2] === '' ? defaultUnit : (match[2] ?? defaultUnit)).toLowerCase()
  const powers = 'kmgtpe'
  if (unit === 'b') {
    const bytes = Math.trunc(value)
    if (bytes % SECTOR !== 0) {
      const up = bytes + (SECTOR - (bytes % SECTOR))
      throw new SizeArgError(`Size is not a multiple of 512. Try using ${up} or ${up - SECTOR}.`)
    }
    return bytes
  }
  if (unit === 's') return Math.trunc(value) * SECTOR
  const index = powers.indexOf(unit)
  if (index < 0) throw new SizeArgError('')
  // LVM computes in whole sectors.
  return Math.trunc(value * 1024 ** (index + 1) / SECTOR) * SECTOR
}

/** Valid `--units` letters (a custom multiplier such as `--units 4k` is not modelled). */
export function isUnitsArg(text: string): boolean {
  return /^[hHbBsSkKmMgGtTpPeErR]$/.test(text)
}

export type SizeStyle = 'unit' | 'short' | 'long'

interface Unit {
  readonly factor: number
  readonly unit: string
  readonly short: string
  readonly long: string
}

const BINARY: readonly Unit[] = [
  { factor: 1024 ** 6, unit: 'e', short: ' EiB', long: ' Exbibyte' },
  { factor: 1024 ** 5, unit: 'p', short: ' PiB', long: ' Pebibyte' },
  { factor: 1024 ** 4, unit: 't', short: ' TiB', long: ' Tebibyte' },
  { factor: 1024 ** 3, unit: 'g', short: ' GiB', long: ' Gibibyte' },
  { factor: 1024 ** 2, unit: 'm', short: ' MiB', long: ' Mebibyte' },
  { factor: 1024, unit: 'k', short: ' KiB', long: ' Kibibyte' },
  { factor: 1, unit: 'b', short: ' B', long: ' Byte    ' },
]
const DECIMAL: readonly Unit[] = [
  { factor: 1000 ** 6, unit: 'E', short: ' EB', long: ' Exabyte' },
  { factor: 1000 ** 5, unit: 'P', short: ' PB', long: ' Petabyte' },
  { factor: 1000 ** 4, unit: 'T', short: ' TB', long: ' Terabyte' },
  { factor: 1000 ** 3, unit: 'G', short: ' GB', long: ' Gigabyte' },
  { factor: 1000 ** 2, unit: 'M', short: ' MB', long: ' Megabyte' },
  { factor: 1000, unit: 'K', short: ' kB', long: ' Kilobyte' },
]
const BYTES: Unit = { factor: 1, unit: 'B', short: ' B ', long: ' Byte    ' }
const SECTORS: Unit = { factor: SECTOR, unit: 'S', short: ' Se', long: ' Sectors ' }
const HUMAN_ZERO: Unit = { factor: 1, unit: ' ', short: '   ', long: '         ' }

const suffixOf = (u: Unit, style: SizeStyle): string => (style === 'unit' ? u.unit : style === 'short' ? u.short : u.long)

/** Round half to even, as C's nearbyint() in the default rounding mode. */
function nearbyint(x: number): number {
  const r = Math.round(x)
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r
}

/**
 * libdm's dm_size_to_string with si_unit_consistency=1 (LVM's default). `unitType` is the --units letter (default 'r':
 * human-readable with a '<' when rounding up hides a remainder). Human units always carry a suffix, as in LVM.
 */
export function formatSize(bytes: number, unitType = 'r', includeSuffix = true, style: SizeStyle = 'unit'): string {
  let unit: Unit | undefined = [...DECIMAL, ...BINARY.slice(0, 6)].find((u) => u.unit === unitType)
  if (unit === undefined && unitType.toUpperCase() === 'B') unit = BYTES
  if (unit === undefined && unitType.toUpperCase() === 'S') unit = SECTORS
  if (bytes === 0) return `0${includeSuffix ? suffixOf(unit ?? HUMAN_ZERO, style) : ''}`
  let prefix = ''
  if (unit === undefined) {
    const table = unitType === 'H' || unitType === 'R' ? [...DECIMAL, BYTES] : BINARY
    unit = table.find((u) => bytes >= u.factor) ?? table[table.length - 1] ?? BYTES
    if ((unitType === 'r' || unitType === 'R') && unit.factor > 1) {
      const d = (100 * bytes) / unit.factor
      if (Math.floor(d) !== nearbyint(d)) prefix = '<'
    }
    includeSuffix = true
  }
  const precision = unit.unit.toUpperCase() === 'B' || unit.unit === 'S' ? 0 : 2
  return `${prefix}${(bytes / unit.factor).toFixed(precision)}${includeSuffix ? suffixOf(unit, style) : ''}`
}

const PERCENT_1 = 1_000_000
const PERCENT_100 = 100 * PERCENT_1

/** dm_make_percent + dm_percent_to_round_float(…, 2) + "%.2f": never "0.00" for a non-zero value, never "100.00" short of full. */
export function formatPercent(numerator: number, denominator: number): string {
  let percent: number
  if (denominator === 0 || numerator === denominator) percent = PERCENT_100
  else if (numerator === 0) percent = 0
  else {
    percent = Math.trunc(PERCENT_100 * (numerator / denominator))
    if (percent === PERCENT_100) percent -= 1
    if (percent === 0) percent = 1
  }
  const r = PERCENT_1 * 0.01
  let f = Math.fround(percent / PERCENT_1)
  if (percent < r && percent > 0) f = Math.fround(0.01)
  else if (percent > PERCENT_100 - r && percent < PERCENT_100) f = Math.fround((PERCENT_100 - r) / PERCENT_1)
  return f.toFixed(2)
}
