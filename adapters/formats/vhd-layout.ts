import { randomBytes } from 'node:crypto'

/**
 * The fixed parts of a dynamic VHD (Microsoft "Virtual Hard Disk Image Format Specification" 1.0), shared by the
 * repository's VHD export and the XenServer restore upload:
 *   footer copy (512) · dynamic header (1024) · BAT (4 bytes per block, padded to 512) · blocks · footer (512)
 * where each block present is a 512-byte sector bitmap and `VHD_BLOCK` bytes of data.
 */
export const VHD_BLOCK = 2 * 1024 * 1024
export const VHD_SECTOR = 512
const VHD_EPOCH_MS = Date.UTC(2000, 0, 1)

/** Who wrote the file: application, its version and host OS, as in the footer. */
export interface VhdCreator {
  readonly app: string
  readonly version: number
  readonly os: string
}

/** Footer of a dynamic VHD of `size` bytes (a multiple of 512), its header right after the footer copy. */
export function vhdFooter(size: number, creator: VhdCreator, nowMs: number = Date.now()): Buffer {
  const f = Buffer.alloc(VHD_SECTOR)
  f.write('conectix', 0, 'latin1')
  f.writeUInt32BE(0x00000002, 8) // features: reserved bit
  f.writeUInt32BE(0x00010000, 12) // format version 1.0
  f.writeBigUInt64BE(512n, 16) // data offset: the dynamic header
  f.writeUInt32BE(Math.max(0, Math.floor((nowMs - VHD_EPOCH_MS) / 1000)) >>> 0, 24)
  f.write(creator.app.padEnd(4, '\0').slice(0, 4), 28, 'latin1')
  f.writeUInt32BE(creator.version >>> 0, 32)
  f.write(creator.os.padEnd(4, '\0').slice(0, 4), 36, 'latin1')
  f.writeBigUInt64BE(BigInt(size), 40) // original size
  f.writeBigUInt64BE(BigInt(size), 48) // current size
  const { cylinders, heads, sectors } = chsGeometry(size / VHD_SECTOR)
  f.writeUInt16BE(cylinders, 56)
  f.writeUInt8(heads, 58)
  f.writeUInt8(sectors, 59)
  f.writeUInt32BE(3, 60) // dynamic
  randomBytes(16).copy(f, 68)
  f.writeUInt32BE(vhdChecksum(f), 64)
  return f
}

/** Dynamic disk header for `blocks` blocks of VHD_BLOCK bytes, BAT right after it. */
export function vhdDynamicHeader(blocks: number): Buffer {
  const h = Buffer.alloc(1024)
  h.write('cxsparse', 0, 'latin1')
  h.writeBigUInt64BE(0xffffffffffffffffn, 8) // no further data
  h.writeBigUInt64BE(BigInt(VHD_SECTOR + 1024), 16) // table offset
  h.writeUInt32BE(0x00010000, 24)
  h.writeUInt32BE(blocks, 28)
  h.writeUInt32BE(VHD_BLOCK, 32)
  h.writeUInt32BE(vhdChecksum(h), 36)
  return h
}

/**
 * The block allocation table: `present(b)` says whether block b is stored; stored blocks follow the BAT in order.
 * Returns the table and the length of the whole file.
 */
export function vhdBat(blocks: number, present: (block: number) => boolean): { bat: Buffer; fileLength: number } {
  const batBytes = Math.ceil((blocks * 4) / VHD_SECTOR) * VHD_SECTOR
  const bat = Buffer.alloc(batBytes, 0xff)
  let sector = (VHD_SECTOR + 1024 + batBytes) / VHD_SECTOR
  for (let b = 0; b < blocks; b++) {
    if (!present(b)) continue
    bat.writeUInt32BE(sector, b * 4)
    sector += (VHD_SECTOR + VHD_BLOCK) / VHD_SECTOR
  }
  return { bat, fileLength: sector * VHD_SECTOR + VHD_SECTOR }
}

/** The sector bitmap in front of every stored block: all sectors present. */
export const vhdFullBitmap = (): Buffer => Buffer.alloc(VHD_SECTOR, 0xff)

/** CHS geometry as the specification's appendix computes it (informational: the size field is what counts). */
export function chsGeometry(totalSectors: number): { cylinders: number; heads: number; sectors: number } {
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
export function vhdChecksum(buf: Buffer): number {
  let sum = 0
  for (const b of buf) sum += b
  return ~sum >>> 0
}
