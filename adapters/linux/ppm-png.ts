import { deflateSync } from 'node:zlib'

/** Screenshots larger than this many pixels are not converted (a console is at most a few megapixels). */
const MAX_PIXELS = 16 * 1024 * 1024

const CRC_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

function crc32(parts: readonly Uint8Array[]): number {
  let c = 0xffffffff
  for (const p of parts) for (const byte of p) c = (CRC_TABLE[(c ^ byte) & 0xff] ?? 0) ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8)
  head.writeUInt32BE(data.length, 0)
  head.write(type, 4, 'latin1')
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32([head.subarray(4), data]), 0)
  return Buffer.concat([head, data, crc])
}

/** The next header token of a PPM (whitespace and `#` comments skipped); bounded, since the bytes come from a host. */
function token(buf: Uint8Array, at: { i: number }): string {
  for (;;) {
    while (at.i < buf.length && /\s/.test(String.fromCharCode(buf[at.i] ?? 0))) at.i++
    if (buf[at.i] !== 0x23) break
    while (at.i < buf.length && buf[at.i] !== 0x0a) at.i++
  }
  const start = at.i
  while (at.i < buf.length && at.i - start < 12 && !/\s/.test(String.fromCharCode(buf[at.i] ?? 0))) at.i++
  return Buffer.from(buf.subarray(start, at.i)).toString('latin1')
}

/**
 * Converts a binary PPM (P6, 8 bits per sample: what QEMU's screendump writes) into a PNG (truecolour, no filtering,
 * deflate). Returns undefined for anything else (other PPM flavours, a truncated or oversized picture), so the caller
 * keeps the original bytes.
 */
export function ppmToPng(ppm: Uint8Array): Buffer | undefined {
  const at = { i: 0 }
  if (token(ppm, at) !== 'P6') return undefined
  const width = Number(token(ppm, at))
  const height = Number(token(ppm, at))
  const maxval = Number(token(ppm, at))
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width * height > MAX_PIXELS) return undefined
  if (maxval !== 255) return undefined
  const start = at.i + 1 // exactly one whitespace byte ends the header
  const rowBytes = width * 3
  if (ppm.length < start + rowBytes * height) return undefined
  const raw = Buffer.alloc((rowBytes + 1) * height)
  for (let y = 0; y < height; y++) raw.set(ppm.subarray(start + y * rowBytes, start + (y + 1) * rowBytes), y * (rowBytes + 1) + 1)
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr.set([8, 2, 0, 0, 0], 8)
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))])
}
