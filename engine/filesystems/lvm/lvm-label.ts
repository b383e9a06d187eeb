import { crc32 } from 'node:zlib'
import type { BlockSource } from '../../disks/block-source'
import { DiskFormatError } from '../../disks/errors'
import { readStructure } from '../../disks/source-read'
import { parseLvmText, type LvmSection } from './lvm-text'

/** LVM2 physical volume label ("LABELONE"), PV header and the metadata area's current text. */
const MDA_MAGIC = ' LVM2 x[5A%r0N*>'
const INITIAL_CRC = 0xf597a6cf
const MDA_HEADER_SIZE = 512

/** LVM's CRC: the CRC-32 polynomial without pre/post inversion, seeded with its own constant. */
export function lvmCrc(buf: Uint8Array): number {
  return ~crc32(buf, ~INITIAL_CRC >>> 0) >>> 0
}

export interface LvmPvLabel {
  readonly pvUuid: string
  readonly deviceSize: number
  readonly dataAreas: readonly { offset: number; size: number }[]
  readonly metadataAreas: readonly { offset: number; size: number }[]
}

export interface LvmPv extends LvmPvLabel {
  readonly source: BlockSource
  /** The parsed VG metadata text (top level: `vgname { ... }` plus descriptive keys). */
  readonly metadata: LvmSection | undefined
}

export async function readPvLabel(source: BlockSource, signal?: AbortSignal): Promise<LvmPvLabel> {
  const head = await readStructure(source, 0, Math.min(2048, source.size), 'LVM label', signal)
  for (let s = 0; s < 4 && (s + 1) * 512 <= head.length; s++) {
    const sector = head.subarray(s * 512, (s + 1) * 512)
    if (sector.toString('latin1', 0, 8) !== 'LABELONE' || sector.toString('latin1', 24, 32) !== 'LVM2 001') continue
    if (lvmCrc(sector.subarray(20)) !== sector.readUInt32LE(16)) throw new DiskFormatError('bad-checksum', `${source.label}: the LVM label checksum does not match`)
    let at = sector.readUInt32LE(20)
    if (at < 32 || at + 48 > 512) throw new DiskFormatError('corrupt', `${source.label}: the LVM label points outside its sector`)
    const pvUuid = sector.toString('latin1', at, at + 32)
    const deviceSize = Number(sector.readBigUInt64LE(at + 32))
    at += 40
    const list = (): { offset: number; size: number }[] => {
      const out: { offset: number; size: number }[] = []
      while (at + 16 <= 512) {
        const offset = Number(sector.readBigUInt64LE(at))
        const size = Number(sector.readBigUInt64LE(at + 8))
        at += 16
        if (offset === 0) break
        if (out.length >= 8) throw new DiskFormatError('corrupt', `${source.label}: the LVM label lists too many areas`)
        out.push({ offset, size })
      }
      return out
    }
    const dataAreas = list()
    const metadataAreas = list()
    return { pvUuid, deviceSize, dataAreas, metadataAreas }
  }
  throw new DiskFormatError('bad-signature', `${source.label} is not an LVM2 physical volume`)
}

/** Reads the current metadata copy from the circular metadata area (it may wrap around the end). */
async function readMetadataText(source: BlockSource, area: { offset: number; size: number }, signal?: AbortSignal): Promise<string | undefined> {
  const hdr = await readStructure(source, area.offset, MDA_HEADER_SIZE, 'LVM metadata area header', signal)
  if (hdr.toString('latin1', 4, 20) !== MDA_MAGIC) throw new DiskFormatError('bad-signature', `${source.label}: the LVM metadata area has a bad magic number`)
  if (lvmCrc(hdr.subarray(4)) !== hdr.readUInt32LE(0)) throw new DiskFormatError('bad-checksum', `${source.label}: the LVM metadata area header checksum does not match`)
  const mdaSize = Number(hdr.readBigUInt64LE(32))
  if (mdaSize < MDA_HEADER_SIZE || mdaSize > area.size + MDA_HEADER_SIZE || mdaSize > 256 * 1024 * 1024) throw new DiskFormatError('corrupt', `${source.label}: the LVM metadata area size is invalid`)
  const offset = Number(hdr.readBigUInt64LE(40))
  const size = Number(hdr.readBigUInt64LE(48))
  const checksum = hdr.readUInt32LE(56)
  if (offset === 0 || size === 0) return undefined
  if (offset < MDA_HEADER_SIZE || offset >= mdaSize || size > mdaSize - MDA_HEADER_SIZE) throw new DiskFormatError('corrupt', `${source.label}: the LVM metadata location is invalid`)
  const first = Math.min(size, mdaSize - offset)
  const a = await readStructure(source, area.offset + offset, first, 'LVM metadata', signal)
  const b = first < size ? await readStructure(source, area.offset + MDA_HEADER_SIZE, size - first, 'LVM metadata', signal) : Buffer.alloc(0)
  const text = Buffer.concat([a, b])
  if (lvmCrc(text) !== checksum) throw new DiskFormatError('bad-checksum', `${source.label}: the LVM metadata text checksum does not match`)
  return text.toString('utf8').replace(/\0+$/, '')
}

export async function readLvmPv(source: BlockSource, signal?: AbortSignal): Promise<LvmPv> {
  const label = await readPvLabel(source, signal)
  let metadata: LvmSection | undefined
  let lastError: unknown
  for (const area of label.metadataAreas) {
    try {
      const text = await readMetadataText(source, area, signal)
      if (text !== undefined) {
        metadata = parseLvmText(text, source.label)
        break
      }
    } catch (e) {
      lastError = e
    }
  }
  if (!metadata && lastError instanceof Error) throw lastError
  return { ...label, source, metadata }
}
