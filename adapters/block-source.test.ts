import { describe, expect, it } from 'vitest'
import { isAllZero } from './block-source'

describe('isAllZero', () => {
  it('finds a single non-zero byte anywhere, across block boundaries and in a short tail', () => {
    for (const size of [0, 1, 65_535, 65_536, 65_537, 4 * 1024 * 1024 + 3]) {
      const b = Buffer.alloc(size)
      expect(isAllZero(b)).toBe(true)
      for (const at of [0, Math.floor(size / 2), size - 1]) {
        if (size === 0) continue
        b[at] = 1
        expect(isAllZero(b)).toBe(false)
        b[at] = 0
      }
    }
  })
})
