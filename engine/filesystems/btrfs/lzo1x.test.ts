import { describe, expect, it } from 'vitest'
import { seededBytes } from '../../disks/testing/tools'
import { btrfsLzoDecompress, lzo1xDecompress } from './lzo1x'

/**
 * Streams spelled out by hand from the LZO1X format (the kernel-written images of btrfs.test.ts cover real
 * compressor output, when the tests run as root): first-byte literal runs, extended literal lengths, M3 matches
 * (also overlapping ones) and the end marker 0x11 0x00 0x00.
 */
const END = [0x11, 0x00, 0x00]
const hello = Buffer.from([17 + 5, ...Buffer.from('hello'), 32 | (5 - 2), (5 - 1) << 2, 0, ...END])
const overlap = Buffer.from([17 + 2, ...Buffer.from('ab'), 32 | (10 - 2), (2 - 1) << 2, 0, ...END])

/** A literal run of n ≥ 19 bytes: 0, then 255 per extra zero byte, then the remainder (n = 18 + 255·zeros + last). */
function literalStream(data: Buffer): Buffer {
  const rest = data.length - 18
  const zeros = Math.floor((rest - 1) / 255)
  return Buffer.from([0, ...Array<number>(zeros).fill(0), rest - zeros * 255, ...data, ...END])
}

describe('LZO1X decompression', () => {
  it('decodes literal runs, matches (overlapping too) and the end marker', () => {
    expect(lzo1xDecompress(hello, 100).toString()).toBe('hellohello')
    expect(lzo1xDecompress(overlap, 100).toString()).toBe('abababababab')
    const data = seededBytes(4096, 1)
    expect(lzo1xDecompress(literalStream(data), 4096).equals(data)).toBe(true)
  })

  it('refuses streams that reach before the output, grow past it, end early or spin on length bytes', () => {
    const before = Buffer.from([17 + 2, ...Buffer.from('ab'), 32 | 3, 9 << 2, 0, ...END])
    expect(() => lzo1xDecompress(before, 100)).toThrow(/back-reference before the start/)
    expect(() => lzo1xDecompress(overlap, 8)).toThrow(/output larger than expected/)
    expect(() => lzo1xDecompress(hello.subarray(0, 8), 100)).toThrow(/input ends early/)
    expect(() => lzo1xDecompress(Buffer.from([0, 0, 0, 0]), 100_000)).toThrow(/input ends early/)
    // A literal length made of zero bytes, longer than anything the output could hold, stops early.
    expect(() => lzo1xDecompress(Buffer.from([0, 0, 0, 0]), 100)).toThrow(/length run too long/)
  })
})

describe('btrfs LZO framing', () => {
  it('reads segments and skips the padding that keeps a segment header inside one sector', () => {
    // Segment 1 ends 3 bytes before the 4 KiB boundary: the next header starts at 4096, after zero padding.
    const first = seededBytes(4065, 2)
    const seg1 = literalStream(first)
    expect(8 + seg1.length).toBe(4093)
    const frame = Buffer.alloc(4096 + 4 + hello.length)
    seg1.copy(frame, 8)
    frame.writeUInt32LE(seg1.length, 4)
    frame.writeUInt32LE(hello.length, 4096)
    hello.copy(frame, 4100)
    frame.writeUInt32LE(frame.length, 0)
    const out = btrfsLzoDecompress(frame, first.length + 10, 4096)
    expect(out.equals(Buffer.concat([first, Buffer.from('hellohello')]))).toBe(true)
  })

  it('refuses a total length beyond the data and a segment past the total', () => {
    const frame = Buffer.alloc(8 + hello.length)
    frame.writeUInt32LE(frame.length + 1, 0)
    expect(() => btrfsLzoDecompress(frame, 10, 4096)).toThrow(/total length/)
    frame.writeUInt32LE(frame.length, 0)
    frame.writeUInt32LE(hello.length + 1, 4)
    expect(() => btrfsLzoDecompress(frame, 10, 4096)).toThrow(/past the end/)
  })
})
