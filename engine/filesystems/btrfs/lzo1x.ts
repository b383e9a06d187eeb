/**
 * LZO1X decompression (the format of lzo1x_1_compress, as Linux's lzo1x_decompress_safe reads it), written from the
 * format: every input read and every output write and back-reference is bounds-checked, and the output never grows
 * past `capacity`. Returns the decompressed bytes or throws an Error saying what is wrong with the stream.
 */
export function lzo1xDecompress(input: Uint8Array, capacity: number): Buffer {
  const out = Buffer.alloc(capacity)
  let ip = 0
  let op = 0
  const fail = (why: string): Error => new Error(`LZO stream is damaged: ${why}`)
  const byte = (): number => {
    const b = input[ip]
    if (b === undefined) throw fail('input ends early')
    ip++
    return b
  }
  const literals = (n: number): void => {
    if (ip + n > input.length) throw fail('literal run past the input')
    if (op + n > capacity) throw fail('output larger than expected')
    out.set(input.subarray(ip, ip + n), op)
    ip += n
    op += n
  }
  const match = (distance: number, length: number): void => {
    if (distance < 1 || distance > op) throw fail('back-reference before the start')
    if (op + length > capacity) throw fail('output larger than expected')
    // Overlapping copies repeat the pattern, so this is byte by byte.
    for (let i = 0; i < length; i++, op++) out[op] = out[op - distance] ?? 0
  }
  /** A zero byte adds 255 to a length; the first non-zero byte ends it. */
  const extended = (base: number): number => {
    let n = 0
    for (;;) {
      const b = byte()
      if (b !== 0) return base + n + b
      n += 255
      if (n > capacity + input.length) throw fail('length run too long')
    }
  }
  let state = 0
  if ((input[0] ?? 0) > 17) {
    const t = byte() - 17
    literals(t)
    state = t < 4 ? t : 4
  }
  for (;;) {
    const t = byte()
    let distance: number
    let length: number
    let next: number
    if (t < 16) {
      if (state === 0) {
        literals(t === 0 ? extended(15) + 3 : t + 3)
        state = 4
        continue
      }
      next = t & 3
      const low = byte()
      if (state === 4) {
        distance = 1 + 0x800 + (t >> 2) + (low << 2)
        length = 3
      } else {
        distance = 1 + (t >> 2) + (low << 2)
        length = 2
      }
    } else if (t >= 64) {
      next = t & 3
      distance = 1 + ((t >> 2) & 7) + (byte() << 3)
      length = (t >> 5) + 1
    } else if (t >= 32) {
      length = (t & 31) === 0 ? extended(31) + 2 : (t & 31) + 2
      const le = byte() | (byte() << 8)
      distance = 1 + (le >> 2)
      next = le & 3
    } else {
      length = (t & 7) === 0 ? extended(7) + 2 : (t & 7) + 2
      const le = byte() | (byte() << 8)
      distance = ((t & 8) << 11) + (le >> 2)
      next = le & 3
      if (distance === 0) {
        if (length !== 3) throw fail('bad end marker')
        return out.subarray(0, op)
      }
      distance += 0x4000
    }
    match(distance, length)
    literals(next)
    state = next
  }
}

const SEGMENT_HEADER = 4

/**
 * btrfs's LZO framing: a 4-byte total length (including itself), then segments of a 4-byte compressed length and
 * LZO1X data, each decompressing to at most one sector; a segment header never straddles a sector boundary (zero
 * padding fills the rest of the sector instead).
 */
export function btrfsLzoDecompress(data: Buffer, ramBytes: number, sectorSize: number): Buffer {
  const fail = (why: string): Error => new Error(`btrfs LZO data is damaged: ${why}`)
  if (data.length < SEGMENT_HEADER) throw fail('too short')
  const total = data.readUInt32LE(0)
  if (total < SEGMENT_HEADER || total > data.length) throw fail(`total length ${total} does not fit ${data.length} bytes`)
  const out = Buffer.alloc(ramBytes)
  let op = 0
  let at = SEGMENT_HEADER
  while (at < total && op < ramBytes) {
    const left = sectorSize - (at % sectorSize)
    if (left < SEGMENT_HEADER) {
      at += left
      continue
    }
    if (at + SEGMENT_HEADER > total) throw fail('segment header past the end')
    const len = data.readUInt32LE(at)
    at += SEGMENT_HEADER
    if (len === 0 || at + len > total) throw fail(`segment of ${len} bytes past the end`)
    const piece = lzo1xDecompress(data.subarray(at, at + len), Math.min(sectorSize, ramBytes - op))
    piece.copy(out, op)
    op += piece.length
    at += len
  }
  return out
}
