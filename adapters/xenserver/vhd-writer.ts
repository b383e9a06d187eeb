import { randomBytes } from 'node:crypto'
import type { GuestDisk } from '../host-adapter'

/**
 * A dynamic VHD of a disk whose zero extents are known (a restore point's disk): only 2 MiB blocks holding data are
 * sent, and since the layout is known before any data is read, the exact length is too (XAPI takes no chunked
 * uploads). Creator "tap", as XenServer's own tools write it.
 */
export const VHD_BLOCK = 2 * 1024 * 1024
const SECTOR = 512

function checksum(buf: Buffer, at: number): number {
  let sum = 0
  for (let i = 0; i < buf.length; i++) if (i < at || i >= at + 4) sum = (sum + (buf[i] ?? 0)) >>> 0
  return ~sum >>> 0
}

function geometry(size: number): number {
  const total = Math.min(Math.floor(size / SECTOR), 65535 * 16 * 255)
  let spt = 17
  let heads: number
  let cth: number
  if (total >= 65535 * 16 * 63) {
    spt = 255
    heads = 16
    cth = Math.floor(total / spt)
  } else {
    cth = Math.floor(total / spt)
    heads = Math.max(4, Math.floor((cth + 1023) / 1024))
    if (cth >= heads * 1024 || heads > 16) {
      spt = 31
      heads = 16
      cth = Math.floor(total / spt)
    }
    if (cth >= heads * 1024) {
      spt = 63
      heads = 16
      cth = Math.floor(total / spt)
    }
  }
  return ((Math.floor(cth / heads) & 0xffff) << 16) | ((heads & 0xff) << 8) | (spt & 0xff)
}

const vhdEpoch = Date.UTC(2000, 0, 1) / 1000

export interface VhdPlan {
  readonly length: number
  readonly blocks: readonly number[]
  stream(signal?: AbortSignal): AsyncGenerator<Buffer>
}

/** Which blocks hold data, from the disk's extents; undefined when the disk cannot tell (then send it raw). */
export async function planVhd(disk: GuestDisk, signal?: AbortSignal): Promise<VhdPlan | undefined> {
  if (disk.extents === undefined) return undefined
  const size = disk.size
  const entries = Math.ceil(size / VHD_BLOCK)
  const used = new Uint8Array(entries)
  let expected = 0
  for await (const e of disk.extents(signal)) {
    if (e.offset !== expected || e.length < 0 || e.offset + e.length > size) return undefined
    expected += e.length
    if (e.kind !== 'data' || e.length === 0) continue
    for (let i = Math.floor(e.offset / VHD_BLOCK); i * VHD_BLOCK < e.offset + e.length; i++) used[i] = 1
  }
  if (expected !== size) return undefined
  const blocks: number[] = []
  for (let i = 0; i < entries; i++) if (used[i] === 1) blocks.push(i)
  const batBytes = Math.ceil((entries * 4) / SECTOR) * SECTOR
  const length = 512 + 1024 + batBytes + blocks.length * (SECTOR + VHD_BLOCK) + 512
  return {
    length,
    blocks,
    async *stream(streamSignal?: AbortSignal) {
      const footer = Buffer.alloc(512)
      footer.write('conectix', 0, 'latin1')
      footer.writeUInt32BE(2, 8)
      footer.writeUInt32BE(0x00010000, 12)
      footer.writeBigUInt64BE(512n, 16)
      footer.writeUInt32BE(Math.max(0, Math.floor(Date.now() / 1000 - vhdEpoch)), 24)
      footer.write('tap\0', 28, 'latin1')
      footer.writeUInt32BE(0x00010003, 32)
      footer.write('Lnux', 36, 'latin1')
      footer.writeBigUInt64BE(BigInt(size), 40)
      footer.writeBigUInt64BE(BigInt(size), 48)
      footer.writeUInt32BE(geometry(size) >>> 0, 56)
      footer.writeUInt32BE(3, 60)
      randomBytes(16).copy(footer, 68)
      footer.writeUInt32BE(checksum(footer, 64), 64)
      const header = Buffer.alloc(1024)
      header.write('cxsparse', 0, 'latin1')
      header.writeBigUInt64BE(0xffffffffffffffffn, 8)
      header.writeBigUInt64BE(1536n, 16)
      header.writeUInt32BE(0x00010000, 24)
      header.writeUInt32BE(entries, 28)
      header.writeUInt32BE(VHD_BLOCK, 32)
      header.writeUInt32BE(checksum(header, 36), 36)
      const bat = Buffer.alloc(batBytes, 0xff)
      let sector = (1536 + batBytes) / SECTOR
      for (const i of blocks) {
        bat.writeUInt32BE(sector, i * 4)
        sector += (SECTOR + VHD_BLOCK) / SECTOR
      }
      yield footer
      yield header
      yield bat
      const bitmap = Buffer.alloc(SECTOR, 0xff)
      for (const i of blocks) {
        const len = Math.min(VHD_BLOCK, size - i * VHD_BLOCK)
        const data = await disk.read(i * VHD_BLOCK, len, streamSignal)
        yield bitmap
        yield len === VHD_BLOCK ? data : Buffer.concat([data, Buffer.alloc(VHD_BLOCK - len)])
      }
      yield footer
    },
  }
}

/** A disk as raw bytes, read in large pieces. */
export async function* rawStream(disk: GuestDisk, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const piece = 4 * 1024 * 1024
  for (let at = 0; at < disk.size; at += piece) yield await disk.read(at, Math.min(piece, disk.size - at), signal)
}
