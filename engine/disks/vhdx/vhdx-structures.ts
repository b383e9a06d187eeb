import type { BlockSource } from '../block-source'
import { ByteView } from '../byte-view'
import { crc32c } from '../crc32c'
import { DiskFormatError } from '../errors'
import { formatGuid, isZeroGuid } from '../guid'
import { readStructure } from '../source-read'

/** VHDX headers, region table and metadata, per Microsoft's [MS-VHDX] v1.0. */
const KiB = 1024
const MiB = 1024 * KiB
export const REGION_BAT = '2DC27766-F623-4200-9D64-115E9BFD4A08'
export const REGION_METADATA = '8B7CA206-4790-4B9A-B8FE-575F050F886E'
const META_FILE_PARAMETERS = 'CAA16737-FA36-4D43-B3B6-33F0AA44E76B'
const META_VIRTUAL_DISK_SIZE = '2FA54224-CD1B-4876-B211-5DBED83BF4B8'
const META_VIRTUAL_DISK_ID = 'BECA12AB-B2E6-4523-93EF-C309E000C746'
const META_LOGICAL_SECTOR_SIZE = '8141BF1D-A96F-4709-BA47-F233A8FAAB5F'
const META_PARENT_LOCATOR = 'A8D35F2D-B30B-454D-ABF7-D3D84834AB0C'
const KNOWN_REQUIRED_METADATA = new Set([META_FILE_PARAMETERS, META_VIRTUAL_DISK_SIZE, META_VIRTUAL_DISK_ID, META_LOGICAL_SECTOR_SIZE, META_PARENT_LOCATOR, 'CDA348C7-445D-4471-9CC9-E9885251C556'])

export interface VhdxHeader {
  readonly sequence: bigint
  readonly logGuidZero: boolean
  readonly logGuid: Buffer
  readonly logOffset: number
  readonly logLength: number
  readonly version: number
}

export interface VhdxMetadata {
  readonly blockSize: number
  readonly hasParent: boolean
  readonly virtualSize: number
  readonly logicalSectorSize: number
  readonly virtualDiskId: string
  readonly parentLocator: ReadonlyMap<string, string>
}

const failCorrupt = (label: string) => (m: string) => new DiskFormatError('corrupt', `${label}: ${m}`)

function crcOk(buf: Buffer, at: number): boolean {
  const copy = Buffer.from(buf)
  copy.writeUInt32LE(0, at)
  return crc32c(copy) === buf.readUInt32LE(at)
}

/** Picks the valid header with the highest sequence number (the other is the previous update). */
export async function readVhdxHeader(source: BlockSource, signal?: AbortSignal): Promise<VhdxHeader> {
  const found: VhdxHeader[] = []
  for (const at of [64 * KiB, 128 * KiB]) {
    const buf = await readStructure(source, at, 4 * KiB, 'VHDX header', signal)
    if (buf.toString('latin1', 0, 4) !== 'head' || !crcOk(buf, 4)) continue
    const v = new ByteView(buf, failCorrupt(source.label), 'VHDX header')
    found.push({
      sequence: v.big64le(8),
      logGuidZero: isZeroGuid(buf, 48),
      logGuid: Buffer.from(buf.subarray(48, 64)),
      version: v.u16le(66),
      logLength: v.u32le(68),
      logOffset: v.u64le(72),
    })
  }
  const best = found.sort((a, b) => (a.sequence < b.sequence ? 1 : -1))[0]
  if (!best) throw new DiskFormatError('bad-checksum', `${source.label}: neither VHDX header is valid (both damaged)`)
  if (best.version !== 1) throw new DiskFormatError('unsupported', `${source.label}: VHDX version ${best.version} is not supported (only version 1)`, { version: best.version })
  return best
}

export interface VhdxRegions {
  readonly bat: { readonly offset: number; readonly length: number }
  readonly metadata: { readonly offset: number; readonly length: number }
}

export async function readVhdxRegions(source: BlockSource, signal?: AbortSignal): Promise<VhdxRegions> {
  for (const at of [192 * KiB, 256 * KiB]) {
    const buf = await readStructure(source, at, 64 * KiB, 'VHDX region table', signal)
    if (buf.toString('latin1', 0, 4) !== 'regi' || !crcOk(buf, 4)) continue
    const v = new ByteView(buf, failCorrupt(source.label), 'VHDX region table')
    const count = v.u32le(8)
    if (count > 2047) throw new DiskFormatError('corrupt', `${source.label}: the VHDX region table claims ${count} entries (at most 2047)`)
    let bat: VhdxRegions['bat'] | undefined
    let metadata: VhdxRegions['metadata'] | undefined
    for (let i = 0; i < count; i++) {
      const o = 16 + i * 32
      const id = formatGuid(buf, o)
      const region = { offset: v.u64le(o + 16), length: v.u32le(o + 24) }
      const required = (v.u32le(o + 28) & 1) === 1
      if (id === REGION_BAT) bat = region
      else if (id === REGION_METADATA) metadata = region
      else if (required) throw new DiskFormatError('unsupported', `${source.label}: the VHDX file requires an unknown region ${id}`, { region: id })
    }
    if (!bat || !metadata) throw new DiskFormatError('corrupt', `${source.label}: the VHDX region table lacks the block table or metadata region`)
    return { bat, metadata }
  }
  throw new DiskFormatError('bad-checksum', `${source.label}: neither VHDX region table is valid (both damaged)`)
}

export async function readVhdxMetadata(source: BlockSource, region: VhdxRegions['metadata'], signal?: AbortSignal): Promise<VhdxMetadata> {
  if (region.length > 32 * MiB) throw new DiskFormatError('too-large', `${source.label}: the VHDX metadata region is implausibly large (${region.length} bytes)`)
  const buf = await readStructure(source, region.offset, region.length, 'VHDX metadata region', signal)
  const v = new ByteView(buf, failCorrupt(source.label), 'VHDX metadata')
  if (v.ascii(0, 8) !== 'metadata') throw new DiskFormatError('bad-signature', `${source.label}: the VHDX metadata region has no "metadata" signature`)
  const count = v.u16le(10)
  if (count > 2047) throw new DiskFormatError('corrupt', `${source.label}: the VHDX metadata table claims ${count} entries (at most 2047)`)
  const items = new Map<string, Buffer>()
  for (let i = 0; i < count; i++) {
    const o = 32 + i * 32
    const id = formatGuid(buf, o)
    const off = v.u32le(o + 16)
    const len = v.u32le(o + 20)
    const required = (v.u32le(o + 24) & 4) !== 0
    if (required && !KNOWN_REQUIRED_METADATA.has(id)) throw new DiskFormatError('unsupported', `${source.label}: the VHDX file requires unknown metadata ${id}`, { item: id })
    items.set(id, v.bytes(off, len))
  }
  const item = (id: string, what: string, min: number): ByteView => {
    const b = items.get(id)
    if (!b || b.length < min) throw new DiskFormatError('corrupt', `${source.label}: the VHDX metadata lacks the ${what}`)
    return new ByteView(b, failCorrupt(source.label), `VHDX ${what}`)
  }
  const params = item(META_FILE_PARAMETERS, 'file parameters', 8)
  const blockSize = params.u32le(0)
  if (blockSize < MiB || blockSize > 256 * MiB || (blockSize & (blockSize - 1)) !== 0) {
    throw new DiskFormatError('corrupt', `${source.label}: VHDX block size ${blockSize} is not a power of two between 1 and 256 MiB`)
  }
  const logicalSectorSize = item(META_LOGICAL_SECTOR_SIZE, 'logical sector size', 4).u32le(0)
  if (logicalSectorSize !== 512 && logicalSectorSize !== 4096) throw new DiskFormatError('corrupt', `${source.label}: VHDX logical sector size ${logicalSectorSize} is not 512 or 4096`)
  const hasParent = (params.u32le(4) & 2) !== 0
  const idItem = items.get(META_VIRTUAL_DISK_ID)
  return {
    blockSize,
    hasParent,
    virtualSize: item(META_VIRTUAL_DISK_SIZE, 'virtual disk size', 8).u64le(0),
    logicalSectorSize,
    virtualDiskId: idItem && idItem.length >= 16 ? formatGuid(idItem) : '',
    parentLocator: hasParent ? parseParentLocator(item(META_PARENT_LOCATOR, 'parent locator', 20), source.label) : new Map(),
  }
}

function parseParentLocator(v: ByteView, label: string): Map<string, string> {
  const count = v.u16le(18)
  if (count * 12 + 20 > v.length) throw new DiskFormatError('corrupt', `${label}: the VHDX parent locator is truncated`)
  const out = new Map<string, string>()
  for (let i = 0; i < count; i++) {
    const o = 20 + i * 12
    const key = v.utf16le(v.u32le(o), v.u16le(o + 8))
    const value = v.utf16le(v.u32le(o + 4), v.u16le(o + 10))
    out.set(key, value)
  }
  return out
}
