import { FilesystemError } from '../errors'

/**
 * LZNT1, the compression of NTFS compressed files: a sequence of chunks, each a 2-byte header (size − 3 in the
 * low 12 bits, bit 15 = compressed) and up to 4 KiB of output. Back-references split their 16 bits between offset
 * and length depending on how far into the chunk the output is. Output is bounded by `outSize`.
 */
export function lznt1Decompress(input: Buffer, outSize: number, label: string): Buffer {
  const out = Buffer.alloc(outSize)
  let o = 0
  let i = 0
  const fail = (m: string): FilesystemError => new FilesystemError('corrupt', `${label}: compressed data is damaged (${m})`)
  while (i + 2 <= input.length && o < outSize) {
    const header = input.readUInt16LE(i)
    if (header === 0) break
    const size = (header & 0x0fff) + 3
    const chunkEnd = i + size
    if (chunkEnd > input.length) throw fail('chunk runs past the data')
    const chunkStart = o
    i += 2
    if ((header & 0x8000) === 0) {
      const n = Math.min(size - 2, outSize - o)
      input.copy(out, o, i, i + n)
      o = Math.min(chunkStart + 4096, outSize)
      i = chunkEnd
      continue
    }
    const chunkLimit = Math.min(chunkStart + 4096, outSize)
    while (i < chunkEnd && o < chunkLimit) {
      const flags = input[i++] ?? 0
      for (let bit = 0; bit < 8 && i < chunkEnd && o < chunkLimit; bit++) {
        if ((flags & (1 << bit)) === 0) {
          out[o++] = input[i++] ?? 0
          continue
        }
        if (i + 2 > chunkEnd) throw fail('truncated back-reference')
        const token = input.readUInt16LE(i)
        i += 2
        let lengthMask = 0x0fff
        let offsetShift = 12
        for (let p = o - chunkStart - 1; p >= 0x10; p >>= 1) {
          lengthMask >>= 1
          offsetShift--
        }
        const length = (token & lengthMask) + 3
        const back = (token >> offsetShift) + 1
        if (back > o - chunkStart) throw fail('back-reference before the chunk start')
        for (let k = 0; k < length && o < chunkLimit; k++, o++) out[o] = out[o - back] ?? 0
      }
    }
    // Every chunk but the last stands for exactly 4 KiB; a short one is zero-padded.
    o = chunkLimit
    i = chunkEnd
  }
  return out
}
