import { describe, expect, it } from 'vitest'
import { applyRetention, type RetentionCandidate } from './retention.js'

const at = (iso: string, id: string, group = 'vm'): RetentionCandidate => ({ id, group, time: new Date(iso) })

describe('retention', () => {
  const points = [
    at('2026-01-01T10:00:00Z', 'a'),
    at('2026-01-01T22:00:00Z', 'b'),
    at('2026-01-02T10:00:00Z', 'c'),
    at('2026-01-09T10:00:00Z', 'd'),
    at('2026-02-15T10:00:00Z', 'e'),
    at('2026-02-16T10:00:00Z', 'f'),
    at('2026-02-16T11:00:00Z', 'g'),
  ]

  it('keep-last keeps the newest N', () => {
    const d = applyRetention(points, { keepLast: 2 })
    expect(d.filter((x) => x.keep).map((x) => x.id)).toEqual(['f', 'g'])
    expect(d.find((x) => x.id === 'a')?.reasons).toEqual(['no retention rule keeps it'])
  })

  it('daily keeps the newest point of each of the last N days, and says why', () => {
    const d = applyRetention(points, { keepDaily: 3 })
    expect(d.filter((x) => x.keep).map((x) => x.id)).toEqual(['d', 'e', 'g'])
    expect(d.find((x) => x.id === 'g')?.reasons).toEqual(['daily 2026-02-16'])
  })

  it('weekly, monthly and yearly buckets, combined with keep-last', () => {
    const d = applyRetention(points, { keepLast: 1, keepWeekly: 2, keepMonthly: 2, keepYearly: 1 })
    const kept = Object.fromEntries(d.filter((x) => x.keep).map((x) => [x.id, x.reasons]))
    expect(Object.keys(kept).sort()).toEqual(['d', 'e', 'g'])
    expect(kept.g).toEqual(['last 1', 'weekly 2026-W08', 'monthly 2026-02', 'yearly 2026'])
    expect(kept.e).toEqual(['weekly 2026-W07'])
    expect(kept.d).toEqual(['monthly 2026-01'])
  })

  it('hourly buckets and per-VM groups', () => {
    const d = applyRetention([...points, at('2026-02-16T11:30:00Z', 'x', 'other')], { keepHourly: 2 })
    expect(d.filter((x) => x.keep).map((x) => x.id)).toEqual(['f', 'g', 'x'])
  })

  it('refuses a policy that keeps nothing, and negative counts', () => {
    expect(() => applyRetention(points, {})).toThrow(/keeps no restore point/)
    expect(() => applyRetention(points, { keepLast: 0, keepDaily: 0 })).toThrow(/keeps no restore point/)
    expect(() => applyRetention(points, { keepLast: -1, keepDaily: 2 })).toThrow(/whole numbers/)
  })
})
