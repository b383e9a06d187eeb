import { describe, expect, it } from 'vitest'
import { errorCodes } from '../../engine/api/contract-errors'
import { de } from './de'
import { en } from './en'
import { interpolate, translate } from './i18n'

describe('translations', () => {
  it('have a message for every API error code, in every language', () => {
    for (const code of errorCodes) {
      expect(en, code).toHaveProperty(`error.${code}`)
      expect(de, code).toHaveProperty(`error.${code}`)
    }
  })

  it('have the same placeholders in German as in English (except error texts rebuilt from params)', () => {
    // A plural's branch (`one {day}`) is text, not a placeholder.
    const names = (s: string) => [...new Set([...s.matchAll(/(?<!(?:zero|one|two|few|many|other|=\d+)\s*)\{(\w+)(?:\}|,\s*plural,)/g)].map((m) => m[1]))].sort()
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      if (key.startsWith('error.')) continue
      expect(names(de[key]), key).toEqual(names(en[key]))
    }
  })

  it('says "1 VM has", "2 VMs have" by each language\'s plural rules, and every plural in the catalogs is well formed', () => {
    expect(translate('en', 'dash.stale', { count: 1, days: 1 })).toBe('1 VM has no backup from the last day')
    expect(translate('en', 'dash.stale', { count: 3, days: 7 })).toBe('3 VMs have no backup from the last 7 days')
    expect(translate('de', 'dash.stale', { count: 1, days: 7 })).toBe('1 VM hat keine Sicherung aus den letzten 7 Tagen')
    expect(translate('de', 'plans.missed', { count: 1, since: 'gestern' })).toBe('1 geplanter Lauf seit gestern wurde verpasst (Lifeboat lief nicht)')
    expect(interpolate('{n, plural, =0 {none} one {# file} other {# files}} in {dir}', { n: 0, dir: 'C:' })).toBe('none in C:')
    for (const [language, catalog] of [['en', en], ['de', de]] as const) {
      for (const key of Object.keys(catalog) as (keyof typeof en)[]) {
        if (!catalog[key].includes(', plural,')) continue
        for (const n of [0, 1, 2, 5, 21]) expect(translate(language, key, { count: n, days: n, points: n, copies: n }), `${language} ${key}`).not.toMatch(/[{}#]|plural/)
      }
    }
  })

  it('never shows braces for a missing parameter', () => {
    expect(interpolate('{address}:{port} did not answer ({reason}).', { address: 'h' })).toBe('h: did not answer.')
  })
})
