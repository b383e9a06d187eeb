/**
 * Five-field cron expressions (minute hour day-of-month month day-of-week) in the machine's local time, as
 * crontab(5) defines them: lists, ranges, steps, names (jan–dec, sun–sat), and the classic rule that when both
 * day fields are restricted a day matching either one counts. Parsing is strict: a typo is an error, never a
 * schedule that silently never runs.
 */

export class CronError extends Error {
  override readonly name = 'CronError'
}

interface Field {
  readonly values: ReadonlySet<number>
  readonly star: boolean
}

export interface CronSchedule {
  readonly source: string
  readonly minute: Field
  readonly hour: Field
  readonly dayOfMonth: Field
  readonly month: Field
  readonly dayOfWeek: Field
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat']

function parseField(text: string, min: number, max: number, names: readonly string[], label: string, nameOffset: number): Field {
  if (text.length === 0 || text.length > 200) throw new CronError(`The ${label} field is empty or too long.`)
  const values = new Set<number>()
  const value = (token: string): number => {
    const lower = token.toLowerCase()
    const named = names.indexOf(lower)
    if (named >= 0) return named + nameOffset
    if (!/^\d{1,2}$/.test(token)) throw new CronError(`"${token}" is not a valid ${label}.`)
    const n = Number(token)
    if (n < min || n > max) throw new CronError(`${label} ${n} is outside ${min}–${max}.`)
    return n
  }
  for (const part of text.split(',')) {
    const [range = '', stepText] = part.split('/')
    const step = stepText === undefined ? 1 : Number(stepText)
    if (stepText !== undefined && (!/^\d{1,2}$/.test(stepText) || step < 1)) throw new CronError(`"/${stepText}" is not a valid step in the ${label} field.`)
    let lo: number
    let hi: number
    if (range === '*') {
      lo = min
      hi = max
    } else if (range.includes('-')) {
      const [a = '', b = ''] = range.split('-')
      lo = value(a)
      hi = value(b)
      if (hi < lo) throw new CronError(`The range ${range} in the ${label} field runs backwards.`)
    } else {
      lo = value(range)
      hi = stepText === undefined ? lo : max
    }
    for (let v = lo; v <= hi; v += step) values.add(v)
  }
  return { values, star: text === '*' || text.startsWith('*/') }
}

export function parseCron(expression: string): CronSchedule {
  const fields = expression.trim().split(/\s+/)
  if (fields.length !== 5) throw new CronError('A cron expression has five fields: minute hour day-of-month month day-of-week (e.g. "30 2 * * 1-5").')
  const [m = '', h = '', dom = '', mon = '', dow = ''] = fields
  const dayOfWeek = parseField(dow, 0, 7, DAYS, 'day of the week', 0)
  // 7 is Sunday too.
  const dowValues = new Set([...dayOfWeek.values].map((d) => d % 7))
  return {
    source: fields.join(' '),
    minute: parseField(m, 0, 59, [], 'minute', 0),
    hour: parseField(h, 0, 23, [], 'hour', 0),
    dayOfMonth: parseField(dom, 1, 31, [], 'day of the month', 0),
    month: parseField(mon, 1, 12, MONTHS, 'month', 1),
    dayOfWeek: { values: dowValues, star: dayOfWeek.star },
  }
}

function dayMatches(s: CronSchedule, d: Date): boolean {
  const dom = s.dayOfMonth.values.has(d.getDate())
  const dow = s.dayOfWeek.values.has(d.getDay())
  if (s.dayOfMonth.star && s.dayOfWeek.star) return true
  if (s.dayOfMonth.star) return dow
  if (s.dayOfWeek.star) return dom
  return dom || dow
}

/** The first time strictly after `after` (whole minutes, local time) the schedule fires; undefined if none within 5 years. */
export function nextRun(s: CronSchedule, after: Date): Date | undefined {
  const d = new Date(after.getTime())
  d.setSeconds(0, 0)
  d.setMinutes(d.getMinutes() + 1)
  const limit = after.getTime() + 5 * 366 * 24 * 3600 * 1000
  while (d.getTime() <= limit) {
    if (!s.month.values.has(d.getMonth() + 1)) {
      d.setMonth(d.getMonth() + 1, 1)
      d.setHours(0, 0, 0, 0)
      continue
    }
    if (!dayMatches(s, d)) {
      d.setDate(d.getDate() + 1)
      d.setHours(0, 0, 0, 0)
      continue
    }
    if (!s.hour.values.has(d.getHours())) {
      d.setHours(d.getHours() + 1, 0, 0, 0)
      continue
    }
    if (!s.minute.values.has(d.getMinutes())) {
      d.setMinutes(d.getMinutes() + 1, 0, 0)
      continue
    }
    return d
  }
  return undefined
}

/** The next `count` run times after `after`. */
export function nextRuns(s: CronSchedule, after: Date, count: number): Date[] {
  const out: Date[] = []
  let t: Date | undefined = after
  while (out.length < count && t) {
    t = nextRun(s, t)
    if (t) out.push(t)
  }
  return out
}

/** Run times in (from, to], at most `max` of them: how many runs a sleeping machine missed. */
export function runsBetween(s: CronSchedule, from: Date, to: Date, max = 1000): Date[] {
  const out: Date[] = []
  let t: Date | undefined = from
  while (out.length < max) {
    t = nextRun(s, t)
    if (!t || t.getTime() > to.getTime()) break
    out.push(t)
  }
  return out
}
