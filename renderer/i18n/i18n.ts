import { useCallback, useMemo } from 'react'
import { ApiError, ApiErrorSchema } from '../../engine/api/contract-errors'
import { useUi, type Language } from '../stores/ui-store'
import { de } from './de'
import { en, type MessageKey } from './en'

const catalogs: Record<Language, Record<MessageKey, string>> = { en, de }

export type Params = Readonly<Record<string, string | number | boolean | null | undefined>>
export type Translate = (key: MessageKey, params?: Params) => string

/** Fills {placeholders}; a missing one becomes empty rather than showing braces to the admin. */
export function interpolate(template: string, params: Params = {}): string {
  return template
    .replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = params[name]
      return value === undefined || value === null ? '' : String(value)
    })
    .replace(/\s+\(\)/g, '')
    .replace(/\s{2,}/g, ' ')
    .trim()
}

export function translate(language: Language, key: MessageKey, params?: Params): string {
  return interpolate(catalogs[language][key], params)
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
