import { describe, expect, it } from 'vitest'
import { allocatedChunks, cowMaxExtents, fits } from './cow'
import { formatPercent, formatSize, parseSizeArg } from './units'

const MiB = 1024 * 1024

// Expected strings are what LVM 2.03.16 printed for the same sizes on this machine's lvm2 package.
describe('LVM size and percent arithmetic', () => {
  it('formats sizes like lvs and vgs', () => {
    expect(formatSize(100 * MiB)).toBe('100.00m')
    expect(formatSize(1020 * MiB)).toBe('1020.00m')
    expect(formatSize(12 * MiB)).toBe('12.00m')
    expect(formatSize(0)).toBe('0 ')
    expect(formatSize(104857600, 'b')).toBe('104857600B')
    expect(formatSize(104857600, 'b', false)).toBe('104857600')
    expect(formatSize(12 * MiB, 'r', true, 'short')).toBe('12.00 MiB')
    expect(formatSize(12582912, 'b', true, 'short')).toBe('12582912 B ')
    // libdm's own example: 2043 MiB is "<2.00g" (rounding up hides a remainder), 2042 MiB rounds down without '<'.
    expect(formatSize(2043 * MiB)).toBe('<2.00g')
    expect(formatSize(2042 * MiB, 'h')).toBe('1.99g')
  })

  it('parses -L sizes (default MiB, case-insensitive binary units)', () => {
    expect(parseSizeArg('100M')).toBe(100 * MiB)
    expect(parseSizeArg('100')).toBe(100 * MiB)
    expect(parseSizeArg('1.5g')).toBe(1536 * MiB)
    expect(parseSizeArg('4096b')).toBe(4096)
    expect(() => parseSizeArg('abc')).toThrow('Size requires number argument.')
    expect(() => parseSizeArg('1000b')).toThrow('Size is not a multiple of 512. Try using 1024 or 512.')
  })

  it('rounds percentages as dm_percent_to_round_float does', () => {
    expect(formatPercent(0, 100)).toBe('0.00')
    expect(formatPercent(8192, 100 * MiB)).toBe('0.01')
    expect(formatPercent(100 * MiB - 1, 100 * MiB)).toBe('99.99')
    expect(formatPercent(5, 5)).toBe('100.00')
  })

  it('sizes and fills COW stores like dm-snapshot', () => {
    // lvcreate -s -L 2G of a 100 MiB origin: "Reducing COW size 2.00 GiB down to maximum usable size 104.00 MiB."
    expect(cowMaxExtents(100 * MiB, 4096, 4 * MiB)).toBe(26)
    expect(allocatedChunks(0, 4096)).toBe(2)
    expect(allocatedChunks(256, 4096)).toBe(259)
    // A full-size snapshot never overflows; one chunk fewer does.
    const originChunks = (100 * MiB) / 4096
    expect(fits(originChunks, 4096, 26 * 4 * MiB)).toBe(true)
    expect(fits(1019, 4096, 4 * MiB)).toBe(true)
    expect(fits(1020, 4096, 4 * MiB)).toBe(false)
  })
})
