import { randomBytes } from 'node:crypto'
import { crc32c } from '../crc32c'

/**
 * Test-only writers for the two formats no tool on this machine can produce: differencing VHD and differencing
 * VHDX (QEMU reads neither kind of child and writes neither). Written from the published specifications
 * (VHD spec v1.0, [MS-VHDX]); every other fixture comes from qemu-img/qemu-io.
 */
export interface SectorWrite {
  readonly offset: number
  readonly data: Buffer
}

function vhdChecksum(buf: Buffer, at: number): number {
  let sum = 0
  for (let i = 0; i < buf.length; i++) if (i < at || i >= at + 4) sum = (sum + (buf[i] ?? 0)) >>> 0
  return ~sum >>> 0
}

/** A differencing VHD over a parent with the given footer unique id; writes must be 512-byte aligned. */
export function makeVhdDifferencing(options: { size: number; parentUniqueId: Buffer; parentRelativePath: string; writes: readonly SectorWrite[]; blockSize?: number }): Buffer {
  const bs = options.blockSize ?? 2 * 1024 * 1024
  const blocks = Math.ceil(options.size / bs)
  const bitmapBytes = Math.ceil(bs / 512 / 8 / 512) * 512
  const batOffset = 2048
  const batBytes = Math.ceil((blocks * 4) / 512) * 512
  const bat = Buffer.alloc(batBytes, 0xff)
  const blockData = new Map<number, { bitmap: Buffer; data: Buffer }>()
  for (const w of options.writes) {
    for (let s = 0; s < w.data.length; s += 512) {
      const at = w.offset + s
      const b = Math.floor(at / bs)
      let entry = blockData.get(b)
      if (!entry) {
        entry = { bitmap: Buffer.alloc(bitmapBytes), data: Buffer.alloc(bs) }
        blockData.set(b, entry)
      }
      const sector = (at - b * bs) / 512
      entry.bitmap[sector >> 3] = (entry.bitmap[sector >> 3] ?? 0) | (0x80 >> (sector & 7))
      w.data.copy(entry.data, at - b * bs, s, s + 512)
    }
  }
  let next = batOffset + batBytes
  const parts: Buffer[] = []
  for (const [b, entry] of [...blockData.entries()].sort((x, y) => x[0] - y[0])) {
    bat.writeUInt32BE(next / 512, b * 4)
    parts.push(entry.bitmap, entry.data)
    next += bitmapBytes + bs
  }
  const footer = Buffer.alloc(512)
  footer.write('conectix', 0, 'latin1')
  footer.writeUInt32BE(2, 8)
  footer.writeUInt32BE(0x00010000, 12)
  footer.writeBigUInt64BE(512n, 16)
  footer.write('lbt ', 28, 'latin1')
  footer.write('Wi2k', 36, 'latin1')
  footer.writeBigUInt64BE(BigInt(options.size), 40)
  footer.writeBigUInt64BE(BigInt(options.size), 48)
  footer.writeUInt32BE(4, 60)
  randomBytes(16).copy(footer, 68)
  footer.writeUInt32BE(vhdChecksum(footer, 64), 64)
  const header = Buffer.alloc(1024)
  header.write('cxsparse', 0, 'latin1')
  header.writeBigUInt64BE(0xffffffffffffffffn, 8)
  header.writeBigUInt64BE(BigInt(batOffset), 16)
  header.writeUInt32BE(0x00010000, 24)
  header.writeUInt32BE(blocks, 28)
  header.writeUInt32BE(bs, 32)
  options.parentUniqueId.copy(header, 40)
  const name = Buffer.from(options.parentRelativePath.replace(/^.*[\\/]/, ''), 'utf16le').swap16()
  name.copy(header, 64, 0, Math.min(name.length, 512))
  const locator = Buffer.from(options.parentRelativePath, 'utf16le')
  header.write('W2ru', 576, 'latin1')
  header.writeUInt32BE(512, 580)
  header.writeUInt32BE(locator.length, 584)
  header.writeBigUInt64BE(1536n, 592)
  header.writeUInt32BE(vhdChecksum(header, 36), 36)
  const locatorArea = Buffer.alloc(512)
  locator.copy(locatorArea)
  return Buffer.concat([footer, header, locatorArea, bat, ...parts, footer])
}

function guidBytes(text: string): Buffer {
  const hex = text.replace(/-/g, '')
  const b = Buffer.from(hex, 'hex')
  const out = Buffer.from(b)
  out.writeUInt32LE(b.readUInt32BE(0), 0)
  out.writeUInt16LE(b.readUInt16BE(4), 4)
  out.writeUInt16LE(b.readUInt16BE(6), 6)
  return out
}

const MiB = 1024 * 1024

/**
 * A differencing VHDX (AVHDX) with 1 MiB blocks: blocks in `fullBlocks` are FULLY_PRESENT (taken from `image`),
 * blocks in `zeroBlocks` are ZERO, and every sector written in `partial` makes its block PARTIALLY_PRESENT
 * with a sector bitmap. Everything else is NOT_PRESENT (read from the parent).
 */
export function makeAvhdx(options: { size: number; parentRelativePath: string; image: Buffer; fullBlocks: readonly number[]; zeroBlocks: readonly number[]; partialSectors: readonly number[] }): Buffer {
  const bs = MiB
  const blocks = Math.ceil(options.size / bs)
  const chunkRatio = (2 ** 23 * 512) / bs
  const chunks = Math.ceil(blocks / chunkRatio)
  const batEntries = chunks * (chunkRatio + 1)
  const batBytes = Math.ceil((batEntries * 8) / MiB) * MiB
  const batAt = 2 * MiB
  const bitmapAt = batAt + batBytes
  const payloadAt = bitmapAt + chunks * MiB
  const partialBlocks = new Set(options.partialSectors.map((s) => Math.floor((s * 512) / bs)))
  const present = [...new Set([...options.fullBlocks, ...partialBlocks])].sort((a, b) => a - b)
  const file = Buffer.alloc(payloadAt + present.length * bs)
  file.write('vhdxfile', 0, 'latin1')
  Buffer.from('lifeboat test', 'utf16le').copy(file, 8)
  for (const at of [64 * 1024, 128 * 1024]) {
    const h = Buffer.alloc(4096)
    h.write('head', 0, 'latin1')
    h.writeBigUInt64LE(at === 64 * 1024 ? 1n : 2n, 8)
    randomBytes(16).copy(h, 16)
    randomBytes(16).copy(h, 32)
    h.writeUInt16LE(1, 66)
    h.writeUInt32LE(MiB, 68)
    h.writeBigUInt64LE(BigInt(MiB), 72)
    h.writeUInt32LE(crc32c(h), 4)
    h.copy(file, at)
  }
  const regions = Buffer.alloc(64 * 1024)
  regions.write('regi', 0, 'latin1')
  regions.writeUInt32LE(2, 8)
  guidBytes('2DC27766-F623-4200-9D64-115E9BFD4A08').copy(regions, 16)
  regions.writeBigUInt64LE(BigInt(batAt), 32)
  regions.writeUInt32LE(batBytes, 40)
  regions.writeUInt32LE(1, 44)
  guidBytes('8B7CA206-4790-4B9A-B8FE-575F050F886E').copy(regions, 48)
  regions.writeBigUInt64LE(BigInt(MiB), 64)
  regions.writeUInt32LE(MiB, 72)
  regions.writeUInt32LE(1, 76)
  regions.writeUInt32LE(crc32c(regions), 4)
  regions.copy(file, 192 * 1024)
  regions.copy(file, 256 * 1024)
  const meta = Buffer.alloc(MiB)
  meta.write('metadata', 0, 'latin1')
  const items: [string, number, Buffer][] = []
  const params = Buffer.alloc(8)
  params.writeUInt32LE(bs, 0)
  params.writeUInt32LE(2, 4)
  items.push(['CAA16737-FA36-4D43-B3B6-33F0AA44E76B', 4, params])
  const vsize = Buffer.alloc(8)
  vsize.writeBigUInt64LE(BigInt(options.size))
  items.push(['2FA54224-CD1B-4876-B211-5DBED83BF4B8', 6, vsize])
  items.push(['BECA12AB-B2E6-4523-93EF-C309E000C746', 6, randomBytes(16)])
  const lss = Buffer.alloc(4)
  lss.writeUInt32LE(512)
  items.push(['8141BF1D-A96F-4709-BA47-F233A8FAAB5F', 6, lss])
  const pss = Buffer.alloc(4)
  pss.writeUInt32LE(4096)
  items.push(['CDA348C7-445D-4471-9CC9-E9885251C556', 6, pss])
  const kv: [string, string][] = [
    ['parent_linkage', '{00000000-0000-0000-0000-000000000000}'],
    ['relative_path', options.parentRelativePath],
  ]
  const strings: Buffer[] = []
  const entries = Buffer.alloc(kv.length * 12)
  let strAt = 20 + entries.length
  kv.forEach(([k, v], i) => {
    const kb = Buffer.from(k, 'utf16le')
    const vb = Buffer.from(v, 'utf16le')
    entries.writeUInt32LE(strAt, i * 12)
    entries.writeUInt32LE(strAt + kb.length, i * 12 + 4)
    entries.writeUInt16LE(kb.length, i * 12 + 8)
    entries.writeUInt16LE(vb.length, i * 12 + 10)
    strings.push(kb, vb)
    strAt += kb.length + vb.length
  })
  const locHead = Buffer.alloc(20)
  guidBytes('B04AEFB7-D19E-4A81-B789-25B8E9445913').copy(locHead)
  locHead.writeUInt16LE(kv.length, 18)
  items.push(['A8D35F2D-B30B-454D-ABF7-D3D84834AB0C', 6, Buffer.concat([locHead, entries, ...strings])])
  meta.writeUInt16LE(items.length, 10)
  let dataAt = 64 * 1024
  items.forEach(([id, flags, value], i) => {
    const o = 32 + i * 32
    guidBytes(id).copy(meta, o)
    meta.writeUInt32LE(dataAt, o + 16)
    meta.writeUInt32LE(value.length, o + 20)
    meta.writeUInt32LE(flags, o + 24)
    value.copy(meta, dataAt)
    dataAt += Math.ceil(value.length / 8) * 8
  })
  meta.copy(file, MiB)
  const batIndex = (block: number): number => block + Math.floor(block / chunkRatio)
  const setBat = (index: number, state: number, offset: number): void => {
    file.writeBigUInt64LE((BigInt(offset / MiB) << 20n) | BigInt(state), batAt + index * 8)
  }
  for (let c = 0; c < chunks; c++) setBat(c * (chunkRatio + 1) + chunkRatio, 6, bitmapAt + c * MiB)
  for (const b of options.zeroBlocks) setBat(batIndex(b), 2, 0)
  present.forEach((b, i) => {
    const at = payloadAt + i * bs
    const full = options.fullBlocks.includes(b)
    setBat(batIndex(b), full ? 6 : 7, at)
    if (full) options.image.copy(file, at, b * bs, (b + 1) * bs)
  })
  for (const s of options.partialSectors) {
    const b = Math.floor((s * 512) / bs)
    if (options.fullBlocks.includes(b)) continue
    const chunk = Math.floor(b / chunkRatio)
    const bit = s - chunk * chunkRatio * (bs / 512)
    const byteAt = bitmapAt + chunk * MiB + (bit >> 3)
    file[byteAt] = (file[byteAt] ?? 0) | (1 << (bit & 7))
    options.image.copy(file, payloadAt + present.indexOf(b) * bs + (s * 512 - b * bs), s * 512, s * 512 + 512)
  }
  return file
}

/** Marks a VHDX as having a non-empty log (both headers), as a crash mid-update leaves it. */
export function dirtyVhdxLog(file: Buffer): Buffer {
  const out = Buffer.from(file)
  for (const at of [64 * 1024, 128 * 1024]) {
    const h = out.subarray(at, at + 4096)
    if (h.toString('latin1', 0, 4) !== 'head') continue
    randomBytes(16).copy(h, 48)
    h.writeUInt32LE(0, 4)
    h.writeUInt32LE(crc32c(h), 4)
  }
  return out
}
