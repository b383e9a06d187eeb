import { describe, expect, it } from 'vitest'
import { parseQemuImgMap } from './qemu-img-map'

const entry = (start: number, length: number, zero: boolean) => ({ start, length, depth: 0, present: true, zero, data: !zero, offset: start })

describe('qemu-img map answers, taken as hostile', () => {
  it('keeps the data extents, merged, and clips the last sector to the file size', () => {
    const text = JSON.stringify([entry(0, 1024, true), entry(1024, 512, false), entry(1536, 512, false), entry(2048, 4096, true), entry(6144, 512, false)])
    expect(parseQemuImgMap(text, 6144 + 100)).toEqual({ ranges: [{ offset: 1024, length: 1024 }, { offset: 6144, length: 100 }] })
  })

  it('treats an extent that is neither data nor zero as data (only "reads as zero" is a hole)', () => {
    const text = JSON.stringify([{ start: 0, length: 512, zero: false, data: false }])
    expect(parseQemuImgMap(text, 512)).toEqual({ ranges: [{ offset: 0, length: 512 }] })
  })

  it.each([
    ['not JSON', 'qemu-img: Could not open', 4096],
    ['not a list', '{"start":0}', 4096],
    ['a gap', JSON.stringify([entry(0, 1024, false), entry(2048, 2048, true)]), 4096],
    ['an overlap', JSON.stringify([entry(0, 2048, false), entry(1024, 3072, true)]), 4096],
    ['too short', JSON.stringify([entry(0, 2048, true)]), 4096],
    ['past the end', JSON.stringify([entry(0, 8192, true)]), 4096],
    ['unsafe numbers', JSON.stringify([entry(0, 2 ** 60, true)]), 4096],
    ['negative length', JSON.stringify([entry(0, -512, true), entry(-512, 4608, true)]), 4096],
    ['fields missing', JSON.stringify([{ start: 0, length: 4096 }]), 4096],
    ['wrong types', JSON.stringify([{ start: '0', length: 4096, zero: true, data: false }]), 4096],
  ])('refuses %s', (_what, text, size) => {
    expect(parseQemuImgMap(text, size)).toHaveProperty('reason')
  })

  it('refuses a map of too many extents without building it', () => {
    const many = Array.from({ length: 200_001 }, (_, i) => entry(i * 512, 512, i % 2 === 0))
    expect(parseQemuImgMap(JSON.stringify(many), 200_001 * 512)).toHaveProperty('reason')
  })
})
