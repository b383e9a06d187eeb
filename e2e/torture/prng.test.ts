import { describe, expect, it } from 'vitest'
import { Prng } from './prng'

describe('Prng', () => {
  it('replays the same draws from the same seed and part name, and different ones otherwise', () => {
    const draws = (p: Prng) => Array.from({ length: 8 }, () => p.int(0, 1_000_000))
    expect(draws(Prng.derive(42, 'kill/local'))).toEqual(draws(Prng.derive(42, 'kill/local')))
    expect(draws(Prng.derive(42, 'kill/local'))).not.toEqual(draws(Prng.derive(42, 'kill/s3')))
    expect(draws(Prng.derive(42, 'kill/local'))).not.toEqual(draws(Prng.derive(43, 'kill/local')))
  })

  it('stays inside the asked range and reaches both ends', () => {
    const p = new Prng(7)
    const seen = new Set<number>()
    for (let i = 0; i < 2000; i++) {
      const v = p.int(3, 6)
      expect(v).toBeGreaterThanOrEqual(3)
      expect(v).toBeLessThanOrEqual(6)
      seen.add(v)
    }
    expect([...seen].sort()).toEqual([3, 4, 5, 6])
  })
})
