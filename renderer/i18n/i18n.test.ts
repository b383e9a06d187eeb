import { describe, expect, it } from 'vitest'
import { errorCodes } from '../../engine/api/contract-errors'
import { de } from './de'
import { en } from './en'
import { interpolate } from './i18n'

describe('translations', () => {
  it('have a message for every API error code, in every language', () => {
    for (const code of errorCodes) {
      expect(en, code).toHaveProperty(`error.${code}`)
      expect(de, code).toHaveProperty(`error.${code}`)
    }
  })

  it('have the same placeholders in German as in English (except error texts rebuilt from params)', () => {
    const names = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      if (key.startsWith('error.')) continue
      expect(names(de[key]), key).toEqual(names(en[key]))
    }
  })

  it('never shows braces for a missing parameter', () => {
    expect(interpolate('{address}:{port} did not answer ({reason}).', { address: 'h' })).toBe('h: did not answer.')
  })
})
