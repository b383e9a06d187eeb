import { describe, expect, it } from 'vitest'
import { walkSample } from './walk-sample'

describe('the undo walks’ sample of steps', () => {
  it('walks short flows whole, always the first and last step, at most the budget, and every step within a month', () => {
    expect(walkSample(13, 12, false, 3)).toHaveLength(13)
    expect(walkSample(55, 12, true, 3)).toHaveLength(55)
    for (const budget of [4, 12]) {
      for (const steps of [budget + 2, 17, 30, 41, 55, 60]) {
        const seen = new Set<number>()
        for (let day = 1; day <= 31; day++) {
          const walked = walkSample(steps, budget, false, day)
          expect(walked[0]).toBe(1)
          expect(walked.at(-1)).toBe(steps)
          expect(walked.length).toBeLessThanOrEqual(budget)
          for (const n of walked) seen.add(n)
        }
        expect(seen.size, `${steps} steps, budget ${budget}`).toBe(steps)
      }
    }
  })
})
