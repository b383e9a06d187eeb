import { describe, expect, it } from 'vitest'
import { scrollToShow, visibleRange } from './windowing'

describe('tree windowing', () => {
  it('renders the visible rows and a margin, never outside the list', () => {
    expect(visibleRange(0, 340, 34, 1000, 5)).toEqual({ first: 0, last: 15 })
    expect(visibleRange(3400, 340, 34, 1000, 5)).toEqual({ first: 95, last: 115 })
    expect(visibleRange(33_660, 340, 34, 1000, 5)).toEqual({ first: 985, last: 999 })
    expect(visibleRange(0, 340, 34, 0)).toEqual({ first: 0, last: -1 })
  })

  it('scrolls just enough to show a row that keyboard navigation reached', () => {
    expect(scrollToShow(50, 0, 340, 34)).toBe(50 * 34 + 34 - 340)
    expect(scrollToShow(2, 340, 340, 34)).toBe(68)
    expect(scrollToShow(12, 340, 340, 34)).toBe(340)
  })
})
