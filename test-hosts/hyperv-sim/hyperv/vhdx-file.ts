/**
 * What qemu-img cannot do: differencing VHDX (AVHDX) files, written from the [MS-VHDX] layout — file identifier,
 * two headers, two region tables, an empty log, metadata (file parameters with HasParent, virtual size, sector sizes,
 * page 83 id, parent locator with parent_linkage/relative_path/volume_path/absolute_win32_path), and a BAT whose
 * payload entries are FULLY_PRESENT or NOT_PRESENT (read from the parent) in 2 MiB blocks, as Hyper-V makes them.
 * Also reads the few header fields the simulator needs from any VHDX (its DataWriteGuid, virtual size, parent).
 */
import { randomBytes } from 'node:crypto'
import { crc32c } from '../../../engine/disks/crc32c'

const KiB = 1024
const MiB = 1024 * KiB
export const AVHDX_BLOCK = 2 * MiB
const LOG_OFFSET = MiB
const META_OFFSET = 2 * MiB
const BAT_OFFSET = 3 * MiB

const GUIDS = {
  bat: '2DC27766-F623-4200-9D64-115E9BFD4A08',
  metadata: '8B7CA206-4790-4B9A-B8FE-575F050F886E',
  fileParameters: 'CAA16737-FA36-4D43-B3B6-33F0AA44E76B',
  virtualDiskSize: '2FA54224-CD1B-4876-B211-5DBED83BF4B8',
  page83: 'BECA12AB-B2E6-4523-93EF-C309E000C746',
  logicalSectorSize: '8141BF1D-A96F-4709-BA47-F233A8FAAB5F',
  physicalSectorSize: 'CDA348C7-445D-4471-9CC9-E9885251C556',
  parentLocator: 'A8D35F2D-B30B-454D-ABF7-D3D84834AB0C',
  vhdxParentLocatorType: 'B04AEFB7-D19E-4A81-B789-25B8E9445913',
}

/** GUID text → on-disk bytes (first three fields little-endian). */
export function guidToBytes(text: string): Buffer {
  const b = Buffer.from(text.replace(/[{}-]/g, ''), 'hex')
  const out = Buffer.from(b)
  out.writeUInt32LE(b.readUInt32BE(0), 0)
  out.writeUInt16LE(b.readUInt16BE(4), 4)
  out.writeUInt16LE(b.readUInt16BE(6), 6)
  return out
}

export function bytesToGuid(b: Buffer): string {
  const h = Buffer.alloc(16)
  h.writeUInt32BE(b.readUInt32LE(0), 0)
  h.writeUInt16BE(b.readUInt16LE(4), 4)
  h.writeUInt16BE(b.readUInt16LE(6), 6)
  b.copy(h, 8, 8, 16)
  const x = h.toString('hex').toUpperCase()
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`
}

export interface ParentLocatorEntries {
  /** "{GUID}" of the parent's DataWriteGuid. */
  readonly parentLinkage: string
  readonly relativePath: string
  readonly volumePath: string
  readonly absoluteWin32Path: string
}

export interface DifferencingSpec {
  readonly virtualSize: number
  readonly blocks: ReadonlyMap<number, Buffer>
  readonly locator: ParentLocatorEntries
  readonly dataWriteGuid: Buffer
  readonly page83: Buffer
}

export function writeDifferencingVhdx(spec: DifferencingSpec): Buffer {
  const chunkRatio = (2 ** 23 * 512) / AVHDX_BLOCK
  const blocks = Math.ceil(spec.virtualSize / AVHDX_BLOCK)
  const chunks = Math.ceil(blocks / chunkRatio)
  const batEntries = chunks * (chunkRatio + 1)
  const batBytes = Math.ceil((batEntries * 8) / MiB) * MiB
  const payloadAt = BAT_OFFSET + batBytes
  const present = [...spec.blocks.keys()].filter((b) => b < blocks).sort((a, b) => a - b)
  const file = Buffer.alloc(payloadAt + present.length * AVHDX_BLOCK)

  file.write('vhdxfile', 0, 'latin1')
  Buffer.from('Lifeboat Hyper-V simulator', 'utf16le').copy(file, 8)
  const fileWrite = randomBytes(16)
  for (const [at, seq] of [[64 * KiB, 1n], [128 * KiB, 2n]] as const) {
    const h = Buffer.alloc(4 * KiB)
    h.write('head', 0, 'latin1')
    h.writeBigUInt64LE(seq, 8)
    fileWrite.copy(h, 16)
    spec.dataWriteGuid.copy(h, 32)
    h.writeUInt16LE(0, 64)
    h.writeUInt16LE(1, 66)
    h.writeUInt32LE(MiB, 68)
    h.writeBigUInt64LE(BigInt(LOG_OFFSET), 72)
    h.writeUInt32LE(crc32c(h), 4)
    h.copy(file, at)
  }
  const regions = Buffer.alloc(64 * KiB)
  regions.write('regi', 0, 'latin1')
  regions.writeUInt32LE(2, 8)
  guidToBytes(GUIDS.bat).copy(regions, 16)
  regions.writeBigUInt64LE(BigInt(BAT_OFFSET), 32)
  regions.writeUInt32LE(batBytes, 40)
  regions.writeUInt32LE(1, 44)
  guidToBytes(GUIDS.metadata).copy(regions, 48)
  regions.writeBigUInt64LE(BigInt(META_OFFSET), 64)
  regions.writeUInt32LE(MiB, 72)
  regions.writeUInt32LE(1, 76)
  regions.writeUInt32LE(crc32c(regions), 4)
  regions.copy(file, 192 * KiB)
  regions.copy(file, 256 * KiB)

  const items: [string, number, Buffer][] = []
  const params = Buffer.alloc(8)
  params.writeUInt32LE(AVHDX_BLOCK, 0)
  params.writeUInt32LE(2, 4) // HasParent
  items.push([GUIDS.fileParameters, 4, params])
  const vsize = Buffer.alloc(8)
  vsize.writeBigUInt64LE(BigInt(spec.virtualSize))
  items.push([GUIDS.virtualDiskSize, 6, vsize])
  items.push([GUIDS.page83, 6, spec.page83])
  const lss = Buffer.alloc(4)
  lss.writeUInt32LE(512)
  items.push([GUIDS.logicalSectorSize, 6, lss])
  const pss = Buffer.alloc(4)
  pss.writeUInt32LE(4096)
  items.push([GUIDS.physicalSectorSize, 6, pss])
  const kv: [string, string][] = [
    ['parent_linkage', spec.locator.parentLinkage],
    ['relative_path', spec.locator.relativePath],
    ['volume_path', spec.locator.volumePath],
    ['absolute_win32_path', spec.locator.absoluteWin32Path],
  ]
  const head = Buffer.alloc(20)
  guidToBytes(GUIDS.vhdxParentLocatorType).copy(head)
  head.writeUInt16LE(kv.length, 18)
  const table = Buffer.alloc(kv.length * 12)
  const strings: Buffer[] = []
  let at = 20 + table.length
  kv.forEach(([k, v], i) => {
    const kb = Buffer.from(k, 'utf16le')
    const vb = Buffer.from(v, 'utf16le')
    table.writeUInt32LE(at, i * 12)
    table.writeUInt32LE(at + kb.length, i * 12 + 4)
    table.writeUInt16LE(kb.length, i * 12 + 8)
    table.writeUInt16LE(vb.length, i * 12 + 10)
    strings.push(kb, vb)
    at += kb.length + vb.length
  })
  items.push([GUIDS.parentLocator, 4, Buffer.concat([head, table, ...strings])])
  const meta = file.subarray(META_OFFSET, META_OFFSET + MiB)
  meta.write('metadata', 0, 'latin1')
  meta.writeUInt16LE(items.length, 10)
  let dataAt = 64 * KiB
  items.forEach(([id, flags, value], i) => {
    const o = 32 + i * 32
    guidToBytes(id).copy(meta, o)
    meta.writeUInt32LE(dataAt, o + 16)
    meta.writeUInt32LE(value.length, o + 20)
    meta.writeUInt32LE(flags, o + 24)
    value.copy(meta, dataAt)
    dataAt += Math.ceil(value.length / 8) * 8
  })

  present.forEach((b, i) => {
    const offset = payloadAt + i * AVHDX_BLOCK
    const entry = b + Math.floor(b / chunkRatio)
    file.writeBigUInt64LE((BigInt(offset / MiB) << 20n) | 6n, BAT_OFFSET + entry * 8)
    const data = spec.blocks.get(b) as Buffer
    data.copy(file, offset, 0, Math.min(data.length, AVHDX_BLOCK))
  })
  return file
}

/** The current header's DataWriteGuid of a VHDX, as "{GUID}" for a child's parent_linkage. */
export function vhdxDataWriteGuid(head: Buffer): string {
  let best: { seq: bigint; guid: Buffer } | undefined
  for (const at of [64 * KiB, 128 * KiB]) {
    const h = head.subarray(at, at + 4 * KiB)
    if (h.length < 4 * KiB || h.toString('latin1', 0, 4) !== 'head') continue
    const copy = Buffer.from(h)
    const sum = copy.readUInt32LE(4)
    copy.writeUInt32LE(0, 4)
    if (crc32c(copy) !== sum) continue
    const seq = h.readBigUInt64LE(8)
    if (!best || seq > best.seq) best = { seq, guid: Buffer.from(h.subarray(32, 48)) }
  }
  if (!best) throw new Error('not a VHDX file (no valid header)')
  return `{${bytesToGuid(best.guid)}}`
}
