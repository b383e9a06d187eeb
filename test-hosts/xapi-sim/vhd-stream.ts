/**
 * VHD as XAPI's /export_raw_vdi?format=vhd streams it: a dynamic disk (2 MiB blocks, only non-empty blocks), or
 * with base= a differencing disk holding only the blocks that differ from the base. Creator "tap", so readers
 * (qemu-img among them) take the size from the footer. Also the reader for /import_raw_vdi?format=vhd.
 */
import { randomBytes } from 'node:crypto'
import type { FileHandle } from 'node:fs/promises'
import type { Readable } from 'node:stream'

export const VHD_BLOCK = 2 * 1024 * 1024
const SECTOR = 512
const BITMAP = 512
const EMPTY = 0xffffffff

function checksum(buf: Buffer, skipAt: number): number {
  let sum = 0
  for (let i = 0; i < buf.length; i++) if (i < skipAt || i >= skipAt + 4) sum = (sum + (buf[i] ?? 0)) >>> 0
  return ~sum >>> 0
}

function geometry(size: number): number {
  const sectors = Math.min(Math.floor(size / SECTOR), 65535 * 16 * 255)
  let spt: number
  let heads: number
  let cth: number
  if (sectors >= 65535 * 16 * 63) {
    spt = 255
    heads = 16
    cth = Math.floor(sectors / spt)
  } else {
    spt = 17
    cth = Math.floor(sectors / spt)
    heads = Math.max(4, Math.floor((cth + 1023) / 1024))
    if (cth >= heads * 1024 || heads > 16) {
      spt = 31
      heads = 16
      cth = Math.floor(sectors / spt)
    }
    if (cth >= heads * 1024) {
      spt = 63
      heads = 16
      cth = Math.floor(sectors / spt)
    }
  }
  const cylinders = Math.floor(cth / heads)
  return ((cylinders & 0xffff) << 16) | ((heads & 0xff) << 8) | (spt & 0xff)
}

const vhdEpoch = Date.UTC(2000, 0, 1) / 1000

function footer(size: number, type: 3 | 4, uid: Buffer): Buffer {
  const f = Buffer.alloc(512)
  f.write('conectix', 0, 'latin1')
  f.writeUInt32BE(2, 8)
  f.writeUInt32BE(0x00010000, 12)
  f.writeBigUInt64BE(512n, 16)
  f.writeUInt32BE(Math.max(0, Math.floor(Date.now() / 1000 - vhdEpoch)), 24)
  f.write('tap\0', 28, 'latin1')
  f.writeUInt32BE(0x00010003, 32)
  f.write('Lnux', 36, 'latin1')
  f.writeBigUInt64BE(BigInt(size), 40)
  f.writeBigUInt64BE(BigInt(size), 48)
  f.writeUInt32BE(geometry(size) >>> 0, 56)
  f.writeUInt32BE(type, 60)
  uid.copy(f, 68)
  f.writeUInt32BE(checksum(f, 64), 64)
  return f
}

function dynamicHeader(entries: number, parent?: { uid: Buffer; name: string }): Buffer {
  const h = Buffer.alloc(1024)
  h.write('cxsparse', 0, 'latin1')
  h.writeBigUInt64BE(0xffffffffffffffffn, 8)
  h.writeBigUInt64BE(1536n, 16)
  h.writeUInt32BE(0x00010000, 24)
  h.writeUInt32BE(entries, 28)
  h.writeUInt32BE(VHD_BLOCK, 32)
  if (parent) {
    parent.uid.copy(h, 40)
    h.writeUInt32BE(Math.max(0, Math.floor(Date.now() / 1000 - vhdEpoch)), 56)
    const name = Buffer.from(parent.name, 'utf16le').swap16()
    name.copy(h, 64, 0, Math.min(name.length, 512))
  }
  h.writeUInt32BE(checksum(h, 36), 36)
  return h
}

export interface VhdPlanSource {
  readonly size: number
  /** Reads a 2 MiB block (short at the end of the disk). */
  readBlock(index: number): Promise<Buffer>
  /** True when the block must be in the stream (data, or changed relative to the base). */
  include(index: number, data: Buffer): boolean | Promise<boolean>
}

/**
 * Streams a VHD of `source`. Two passes: the block allocation table precedes the data, so which blocks go in must
 * be known first (a real pool knows it from its own VHD chain; the simulator reads the disk once to find out).
 */
export async function* vhdStream(source: VhdPlanSource, parent?: { name: string }): AsyncGenerator<Buffer> {
  const entries = Math.ceil(source.size / VHD_BLOCK)
  const included: number[] = []
  for (let i = 0; i < entries; i++) if (await source.include(i, await source.readBlock(i))) included.push(i)
  const batBytes = Math.ceil((entries * 4) / SECTOR) * SECTOR
  const bat = Buffer.alloc(batBytes, 0xff)
  let sector = (1536 + batBytes) / SECTOR
  for (const i of included) {
    bat.writeUInt32BE(sector, i * 4)
    sector += (BITMAP + VHD_BLOCK) / SECTOR
  }
  const uid = randomBytes(16)
  const foot = footer(source.size, parent ? 4 : 3, uid)
  yield foot
  yield dynamicHeader(entries, parent ? { uid: randomBytes(16), name: parent.name } : undefined)
  yield bat
  const bitmap = Buffer.alloc(BITMAP, 0xff)
  for (const i of included) {
    const data = await source.readBlock(i)
    yield bitmap
    yield data.length === VHD_BLOCK ? data : Buffer.concat([data, Buffer.alloc(VHD_BLOCK - data.length)])
  }
  yield foot
}

/** Exactly `n` bytes from a byte stream, or an error when it ends early. */
class StreamReader {
  private buffered: Buffer[] = []
  private length = 0
  private readonly iterator: AsyncIterator<Buffer>
  total = 0

  constructor(stream: Readable) {
    this.iterator = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]()
  }

  async read(n: number): Promise<Buffer> {
    while (this.length < n) {
      const next = await this.iterator.next()
      if (next.done === true) throw new Error(`the VHD stream ended after ${this.total + this.length} bytes`)
      this.buffered.push(next.value)
      this.length += next.value.length
    }
    const all = this.buffered.length === 1 ? (this.buffered[0] as Buffer) : Buffer.concat(this.buffered)
    const out = all.subarray(0, n)
    const rest = all.subarray(n)
    this.buffered = rest.length > 0 ? [rest] : []
    this.length = rest.length
    this.total += n
    return out
  }

  async skipTo(position: number): Promise<void> {
    if (position < this.total) throw new Error('the VHD stream is not in order')
    while (this.total < position) await this.read(Math.min(1 << 20, position - this.total))
  }
}

/**
 * Writes a dynamic or differencing VHD stream into `target` (a raw file of the VDI's size): every block present in
 * the stream is written, sector by sector as its bitmap says; blocks absent are left as they were. That is what
 * vhd-tool does for /import_raw_vdi?format=vhd (xen-api ocaml/vhd-tool/src/impl.ml, serve_vhd_to_raw: it writes
 * each block of the stream and relies on the target being "prezeroed"), so a VHD sent over a VDI that holds data
 * keeps the old bytes wherever the VHD has no block.
 */
export async function writeVhdInto(stream: Readable, target: FileHandle, size: number): Promise<number> {
  const reader = new StreamReader(stream)
  const foot = await reader.read(512)
  if (foot.toString('latin1', 0, 8) !== 'conectix') throw new Error('not a VHD (no footer cookie)')
  const type = foot.readUInt32BE(60)
  const current = Number(foot.readBigUInt64BE(48))
  if (current > size) throw new Error(`the VHD is larger (${current}) than the VDI (${size})`)
  if (type !== 3 && type !== 4) throw new Error(`VHD disk type ${type} cannot be streamed`)
  const header = await reader.read(1024)
  if (header.toString('latin1', 0, 8) !== 'cxsparse') throw new Error('not a dynamic VHD (no header cookie)')
  const tableOffset = Number(header.readBigUInt64BE(16))
  const entries = header.readUInt32BE(28)
  const blockSize = header.readUInt32BE(32)
  if (blockSize !== VHD_BLOCK || entries > Math.ceil(size / VHD_BLOCK) + 1) throw new Error('unsupported VHD block layout')
  await reader.skipTo(tableOffset)
  const bat = await reader.read(Math.ceil((entries * 4) / SECTOR) * SECTOR)
  const blocks: { index: number; sector: number }[] = []
  for (let i = 0; i < entries; i++) {
    const s = bat.readUInt32BE(i * 4)
    if (s !== EMPTY) blocks.push({ index: i, sector: s })
  }
  blocks.sort((a, b) => a.sector - b.sector)
  let written = 0
  for (const b of blocks) {
    await reader.skipTo(b.sector * SECTOR)
    const bitmap = await reader.read(BITMAP)
    const data = await reader.read(VHD_BLOCK)
    const base = b.index * VHD_BLOCK
    for (let s = 0; s < VHD_BLOCK / SECTOR; s++) {
      if (((bitmap[s >> 3] ?? 0) & (0x80 >> (s & 7))) === 0) continue
      const at = base + s * SECTOR
      if (at >= size) break
      let run = 1
      while (s + run < VHD_BLOCK / SECTOR && ((bitmap[(s + run) >> 3] ?? 0) & (0x80 >> ((s + run) & 7))) !== 0) run++
      const len = Math.min(run * SECTOR, size - at)
      await target.write(data, s * SECTOR, len, at)
      written += len
      s += run - 1
    }
  }
  return written
}
