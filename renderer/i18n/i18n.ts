import { useCallback, useMemo } from 'react'
import { ApiError, ApiErrorSchema } from '../../engine/api/contract-errors'
import { useUi, type Language } from '../stores/ui-store'
import { de } from './de'
import { en, type MessageKey } from './en'

const catalogs: Record<Language, Record<MessageKey, string>> = { en, de }

export type Params = Readonly<Record<string, string | number | boolean | null | undefined>>
export type Translate = (key: MessageKey, params?: Params) => string

const pluralRules = new Map<string, Intl.PluralRules>()
function pluralCategory(locale: string, n: number): string {
  let rules = pluralRules.get(locale)
  if (rules === undefined) pluralRules.set(locale, (rules = new Intl.PluralRules(locale)))
  return rules.select(n)
}

/**
 * Picks the branch of each `{name, plural, one {…} other {…}}` (ICU's message syntax, the subset the catalogs use:
 * `=N` and the locale's categories, `#` for the number) by the language's plural rules; a branch may hold
 * {placeholders}. A malformed one is left as written, which the catalog tests catch.
 */
function selectPlurals(template: string, params: Params, locale: string): string {
  let out = ''
  let i = 0
  for (;;) {
    const start = template.indexOf('{', i)
    const head = start < 0 ? null : /^\{(\w+),\s*plural,\s*/.exec(template.slice(start))
    if (start < 0) return out + template.slice(i)
    if (head === null) {
      out += template.slice(i, start + 1)
      i = start + 1
      continue
    }
    const branches = new Map<string, string>()
    let j = start + head[0].length
    while (j < template.length && template[j] !== '}') {
      const key = /^(=\d+|\w+)\s*\{/.exec(template.slice(j))
      if (key === null) return out + template.slice(i)
      let depth = 1
      let k = j + key[0].length
      for (; k < template.length && depth > 0; k++) depth += template[k] === '{' ? 1 : template[k] === '}' ? -1 : 0
      if (depth > 0) return out + template.slice(i)
      branches.set(key[1] ?? '', template.slice(j + key[0].length, k - 1))
      j = k
      while (template[j] === ' ') j++
    }
    const value = Number(params[head[1] ?? ''])
    const n = Number.isFinite(value) ? value : 0
    const branch = branches.get(`=${n}`) ?? branches.get(pluralCategory(locale, n)) ?? branches.get('other') ?? ''
    out += template.slice(i, start) + branch.replace(/#/g, String(n))
    i = j + 1
  }
}

/** Fills {placeholders}; a missing one becomes empty rather than showing braces to the admin. Plurals: selectPlurals. */
export function interpolate(template: string, params: Params = {}, locale = 'en'): string {
  return selectPlurals(template, params, locale)
    .replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = params[name]
      return value === undefined || value === null ? '' : String(value)
    })
    .replace(/\s+\(\)/g, '')
    .replace(/\s{2,}/g, ' ')
    .trim()
}

export function translate(language: Language, key: MessageKey, params?: Params): string {
  return interpolate(catalogs[language][key], params, language)
}

export function useT(): Translate {
  const language = useUi((s) => s.language)
  return useCallback((key: MessageKey, params?: Params) => translate(language, key, params), [language])
}

/** The admin-facing text of any error: translated by code, with the engine's English message as material. */
export function errorText(t: Translate, err: unknown): string {
  const shape = err instanceof ApiError ? err.toJSON() : ApiErrorSchema.safeParse(err).data
  if (shape) return t(`error.${shape.code}`, { ...shape.params, message: shape.message })
  return err instanceof Error ? err.message : String(err)
}

export function useFormat() {
  const language = useUi((s) => s.language)
  return useMemo(() => {
    const locale = language === 'de' ? 'de-DE' : 'en-GB'
    const number = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 })
    const dateTime = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' })
    const relative = new Intl.RelativeTimeFormat(locale, { numeric: 'auto', style: 'short' })
    const shortDateTime = new Intl.DateTimeFormat(locale, { dateStyle: 'short', timeStyle: 'short' })
    const timeOnly = new Intl.DateTimeFormat(locale, { timeStyle: 'medium' })
    return {
      bytes(bytes: number | undefined): string {
        if (bytes === undefined) return '—'
        const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
        let value = bytes
        let unit = 0
        while (value >= 1024 && unit < units.length - 1) {
          value /= 1024
          unit++
        }
        return `${number.format(value)} ${units[unit] ?? 'B'}`
      },
      date(iso: string | undefined): string {
        if (iso === undefined) return '—'
        const d = new Date(iso)
        return Number.isNaN(d.getTime()) ? '—' : dateTime.format(d)
      },
      /** Time of day with seconds, for log lines. */
      time(iso: string | undefined): string {
        if (iso === undefined) return '—'
        const d = new Date(iso)
        return Number.isNaN(d.getTime()) ? '—' : timeOnly.format(d)
      },
      /** Compact date and time for table columns. */
      shortDate(iso: string | undefined): string {
        if (iso === undefined) return '—'
        const d = new Date(iso)
        return Number.isNaN(d.getTime()) ? '—' : shortDateTime.format(d)
      },
      duration(seconds: number): string {
        if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`
        const minutes = Math.round(seconds / 60)
        if (minutes < 60) return `${minutes} min`
        const hours = Math.floor(minutes / 60)
        return `${hours} h ${minutes % 60} min`
      },
      count(n: number): string {
        return number.format(n)
      },
      /** "3 h ago", "vor 3 Std." — for recency at a glance. */
      relative(iso: string | undefined): string {
        if (iso === undefined) return '—'
        const then = Date.parse(iso)
        if (Number.isNaN(then)) return '—'
        const seconds = (then - Date.now()) / 1000
        const units: [Intl.RelativeTimeFormatUnit, number][] = [['day', 86400], ['hour', 3600], ['minute', 60]]
        for (const [unit, size] of units) if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit)
        return relative.format(0, 'minute')
      },
    }
  }, [language])
}
