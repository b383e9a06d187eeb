import type { BlockSource } from '../block-source'
import { ByteView } from '../byte-view'
import { DiskFormatError } from '../errors'
import { readStructure } from '../source-read'

/** VHD footer and dynamic-disk header, per Microsoft's "Virtual Hard Disk Image Format Specification" v1.0. */
export const VHD_COOKIE = 'conectix'
export const VHD_TYPE_FIXED = 2
export const VHD_TYPE_DYNAMIC = 3
export const VHD_TYPE_DIFFERENCING = 4
const NO_OFFSET = 0xffffffffffffffffn

export interface VhdFooter {
  readonly diskType: number
  readonly dataOffset: bigint
  readonly currentSize: number
  readonly uniqueId: string
  readonly creatorApp: string
}

export interface VhdDynamicHeader {
  readonly tableOffset: number
  readonly maxTableEntries: number
  readonly blockSize: number
  readonly parentUniqueId: string
  readonly parentName: string
  readonly locators: readonly { readonly code: string; readonly offset: number; readonly length: number }[]
}

const fail = (label: string) => (m: string) => new DiskFormatError('corrupt', `${label}: ${m}`)

function vhdChecksum(buf: Buffer, checksumAt: number): number {
  let sum = 0
  for (let i = 0; i < buf.length; i++) if (i < checksumAt || i >= checksumAt + 4) sum = (sum + (buf[i] ?? 0)) >>> 0
  return ~sum >>> 0
}

export function parseVhdFooter(buf: Buffer, label: string): VhdFooter | undefined {
  if (buf.length < 512 || buf.toString('latin1', 0, 8) !== VHD_COOKIE) return undefined
  const v = new ByteView(buf, fail(label), 'VHD footer')
  if (v.u32be(64) !== vhdChecksum(buf.subarray(0, 512), 64)) {
    throw new DiskFormatError('bad-checksum', `${label}: the VHD footer checksum does not match (damaged footer)`)
  }
  const diskType = v.u32be(60)
  if (diskType !== VHD_TYPE_FIXED && diskType !== VHD_TYPE_DYNAMIC && diskType !== VHD_TYPE_DIFFERENCING) {
    throw new DiskFormatError('unsupported', `${label}: VHD disk type ${diskType} is not fixed, dynamic or differencing`, { diskType })
  }
  return {
    diskType,
    dataOffset: v.big64be(16),
    currentSize: v.u64be(48),
    uniqueId: v.bytes(68, 16).toString('hex'),
    creatorApp: v.ascii(28, 4),
  }
}

/** Reads the footer from the end of the file, falling back to the copy at offset 0 that dynamic disks keep. */
export async function readVhdFooter(source: BlockSource, signal?: AbortSignal): Promise<VhdFooter | undefined> {
  if (source.size < 512) return undefined
  const tail = await source.read(source.size - 512, 512, signal)
  let tailError: unknown
  try {
    const f = parseVhdFooter(tail, source.label)
    if (f) return f
  } catch (e) {
    tailError = e
  }
  const head = await source.read(0, 512, signal)
  const copy = parseVhdFooter(head, source.label)
  if (copy && copy.diskType !== VHD_TYPE_FIXED) return copy
  if (tailError instanceof Error) throw tailError
  return undefined
}

export async function readVhdDynamicHeader(source: BlockSource, footer: VhdFooter, signal?: AbortSignal): Promise<VhdDynamicHeader> {
  if (footer.dataOffset === NO_OFFSET || footer.dataOffset > BigInt(source.size)) {
    throw new DiskFormatError('corrupt', `${source.label}: the VHD footer points its dynamic header outside the file`)
  }
  const at = Number(footer.dataOffset)
  const buf = await readStructure(source, at, 1024, 'VHD dynamic header', signal)
  if (buf.toString('latin1', 0, 8) !== 'cxsparse') throw new DiskFormatError('bad-signature', `${source.label}: no VHD dynamic header ("cxsparse") at byte ${at}`)
  if (buf.readUInt32BE(36) !== vhdChecksum(buf, 36)) throw new DiskFormatError('bad-checksum', `${source.label}: the VHD dynamic header checksum does not match`)
  const v = new ByteView(buf, fail(source.label), 'VHD dynamic header')
  const blockSize = v.u32be(32)
  if (blockSize < 512 || blockSize > 256 * 1024 * 1024 || (blockSize & (blockSize - 1)) !== 0) {
    throw new DiskFormatError('corrupt', `${source.label}: VHD block size ${blockSize} is not a power of two between 512 bytes and 256 MiB`, { blockSize })
  }
  const locators = []
  for (let i = 0; i < 8; i++) {
    const o = 576 + i * 24
    const code = v.ascii(o, 4)
    const length = v.u32be(o + 8)
    const offset = v.u64be(o + 16)
    if (code !== '\0\0\0\0' && length > 0) locators.push({ code, offset, length })
  }
  const nameRaw = Buffer.from(v.bytes(64, 512))
  return {
    tableOffset: v.u64be(16),
    maxTableEntries: v.u32be(28),
    blockSize,
    parentUniqueId: v.bytes(40, 16).toString('hex'),
    parentName: nameRaw.swap16().toString('utf16le').replace(/\0.*$/s, ''),
    locators,
  }
}

/** Decodes the parent path candidates; relative Windows paths first since images move between hosts. */
export async function readVhdParentPaths(source: BlockSource, header: VhdDynamicHeader, signal?: AbortSignal): Promise<string[]> {
  const byCode = new Map<string, string>()
  for (const loc of header.locators) {
    if (loc.length > 64 * 1024) continue
    const buf = await readStructure(source, loc.offset, loc.length, 'VHD parent locator', signal)
    const text = loc.code === 'W2ru' || loc.code === 'W2ku' ? buf.toString('utf16le') : buf.toString('utf8')
    const clean = text.replace(/\0.*$/s, '').replace(/^file:\/\//, '')
    if (clean) byCode.set(loc.code, clean)
  }
  const ordered = ['W2ru', 'Wi2r', 'W2ku', 'Wi2k', 'MacX', 'Mac '].flatMap((c) => {
    const p = byCode.get(c)
    return p === undefined ? [] : [p]
  })
  if (header.parentName && !ordered.includes(header.parentName)) ordered.push(header.parentName)
  return ordered
}
