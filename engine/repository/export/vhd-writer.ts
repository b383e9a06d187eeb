import { randomBytes } from 'node:crypto'
import { CHUNK_SIZE } from '../format.js'
import { RepositoryError } from '../errors.js'
import { data, zeros, type ExportInput, type Piece } from './pieces.js'

/**
 * Dynamic VHD (Microsoft "Virtual Hard Disk Image Format Specification" 1.0):
 *   footer copy (512) · dynamic header (1024) · BAT (4 bytes per 2 MiB block, padded to 512) ·
 *   blocks (512-byte sector bitmap + 2 MiB data) for non-zero chunks only · footer (512)
 * The creator application is "win ", whose convention (shared by Hyper-V, XenServer and QEMU) is that the
 * footer's current size — not the CHS geometry — is the disk size, so sizes that are no CHS product survive.
 */
const BLOCK = 2 * 1024 * 1024
const BLOCKS_PER_CHUNK = CHUNK_SIZE / BLOCK
const BITMAP = 512
export const VHD_MAX_SIZE = 2040 * 1024 ** 3
const VHD_EPOCH_MS = Date.UTC(2000, 0, 1)

export async function* vhdImage(input: ExportInput, signal?: AbortSignal, now: number = Date.now()): AsyncGenerator<Piece> {
  if (input.size > VHD_MAX_SIZE) {
    throw new RepositoryError('EXPORT_UNSUPPORTED', `The disk is ${input.size} bytes; a VHD holds at most 2040 GiB. Export it as VHDX or qcow2 instead.`, {
      size: input.size,
      format: 'vhd',
    })
  }
  const size = Math.ceil(input.size / 512) * 512
  const blocks = Math.ceil(size / BLOCK)
  const batBytes = Math.ceil((blocks * 4) / 512) * 512
  const footer = makeFooter(size, Math.floor((now - VHD_EPOCH_MS) / 1000))
  yield data(footer)

  const dyn = Buffer.alloc(1024)
  dyn.write('cxsparse', 0, 'latin1')
  dyn.writeBigUInt64BE(0xffffffffffffffffn, 8)
  dyn.writeBigUInt64BE(BigInt(512 + 1024), 16)
  dyn.writeUInt32BE(0x00010000, 24)
  dyn.writeUInt32BE(blocks, 28)
  dyn.writeUInt32BE(BLOCK, 32)
  dyn.writeUInt32BE(checksum(dyn), 36)
  yield data(dyn)

  const bat = Buffer.alloc(batBytes, 0xff)
  let sector = (512 + 1024 + batBytes) / 512
  for (let b = 0; b < blocks; b++) {
    if (input.zeroChunks[Math.floor(b / BLOCKS_PER_CHUNK)] !== false) continue
    bat.writeUInt32BE(sector, b * 4)
    sector += (BITMAP + BLOCK) / 512
  }
  yield data(bat)

  const bitmap = Buffer.alloc(BITMAP, 0xff)
  let i = 0
  for await (const chunk of input.chunks(signal)) {
    const zero = input.zeroChunks[i] !== false
    const chunkStart = i++ * CHUNK_SIZE
    if (zero) continue
    for (let at = 0; at < chunk.length; at += BLOCK) {
      if (chunkStart + at >= size) break
      yield data(bitmap)
      const part = chunk.subarray(at, Math.min(chunk.length, at + BLOCK))
      yield data(part)
      if (part.length < BLOCK) yield zeros(BLOCK - part.length)
    }
  }
  yield data(footer)
}

function makeFooter(size: number, timestamp: number): Buffer {
  const f = Buffer.alloc(512)
  f.write('conectix', 0, 'latin1')
  f.writeUInt32BE(0x00000002, 8)
  f.writeUInt32BE(0x00010000, 12)
  f.writeBigUInt64BE(512n, 16)
  f.writeUInt32BE(timestamp >>> 0, 24)
  f.write('win ', 28, 'latin1')
  f.writeUInt32BE(0x000a0000, 32)
  f.write('Wi2k', 36, 'latin1')
  f.writeBigUInt64BE(BigInt(size), 40)
  f.writeBigUInt64BE(BigInt(size), 48)
  const { cylinders, heads, sectors } = geometry(size / 512)
  f.writeUInt16BE(cylinders, 56)
  f.writeUInt8(heads, 58)
  f.writeUInt8(sectors, 59)
  f.writeUInt32BE(3, 60)
  randomBytes(16).copy(f, 68)
  f.writeUInt32BE(checksum(f), 64)
  return f
}

/** CHS geometry as the VHD specification's appendix computes it (informational: the size field is what counts). */
function geometry(totalSectors: number): { cylinders: number; heads: number; sectors: number } {
  const ts = Math.min(totalSectors, 65535 * 16 * 255)
  let spt: number
  let heads: number
  let cth: number
  if (ts >= 65535 * 16 * 63) {
    spt = 255
    heads = 16
    cth = Math.floor(ts / spt)
  } else {
    spt = 17
    cth = Math.floor(ts / spt)
    heads = Math.max(4, Math.floor((cth + 1023) / 1024))
    if (cth >= heads * 1024 || heads > 16) {
      spt = 31
      heads = 16
      cth = Math.floor(ts / spt)
    }
    if (cth >= heads * 1024) {
      spt = 63
      heads = 16
      cth = Math.floor(ts / spt)
    }
  }
  return { cylinders: Math.floor(cth / heads), heads, sectors: spt }
}

/** One's complement of the byte sum, with the checksum field itself still zero. */
function checksum(buf: Buffer): number {
  let sum = 0
  for (const b of buf) sum += b
  return ~sum >>> 0
}
