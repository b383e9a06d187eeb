import { describe, expect, it } from 'vitest'
import { walkedSteps } from './step-walk'

describe('the Hyper-V undo walk’s sample of steps', () => {
  it('walks short flows whole, always the first and last step, and every step over a month of days', () => {
    expect(walkedSteps(5, false, 7)).toEqual([1, 2, 3, 4, 5])
    expect(walkedSteps(12, true, 7)).toHaveLength(12)
    for (const steps of [6, 9, 10, 17, 30]) {
      const seen = new Set<number>()
      for (let day = 1; day <= 31; day++) {
        const walked = walkedSteps(steps, false, day)
        expect(walked[0]).toBe(1)
        expect(walked.at(-1)).toBe(steps)
        expect(walked.length).toBeLessThanOrEqual(4)
        for (const n of walked) seen.add(n)
      }
      expect(seen.size, `${steps} steps`).toBe(steps)
    }
  })
})
