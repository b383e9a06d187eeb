import { crc32 } from 'node:zlib'
import type { BlockSource } from '../../disks/block-source'
import { DiskFormatError } from '../../disks/errors'
import { formatGuid, isZeroGuid } from '../../disks/guid'
import { readStructure } from '../../disks/source-read'
import { gptTypeName, type PartitionEntry, type PartitionTable } from './partition-types'

const MAX_TABLE_BYTES = 1024 * 1024

interface GptHeader {
  readonly entriesLba: number
  readonly count: number
  readonly entrySize: number
  readonly entriesCrc: number
  readonly alternateLba: number
  readonly diskGuid: string
}

function parseHeader(buf: Buffer): GptHeader | undefined {
  if (buf.toString('latin1', 0, 8) !== 'EFI PART') return undefined
  const size = buf.readUInt32LE(12)
  if (size < 92 || size > buf.length) return undefined
  const copy = Buffer.from(buf.subarray(0, size))
  copy.writeUInt32LE(0, 16)
  if (crc32(copy) !== buf.readUInt32LE(16)) return undefined
  const count = buf.readUInt32LE(80)
  const entrySize = buf.readUInt32LE(84)
  if (entrySize < 128 || entrySize % 8 !== 0 || count * entrySize > MAX_TABLE_BYTES) return undefined
  const entriesLba = buf.readBigUInt64LE(72)
  const alternateLba = buf.readBigUInt64LE(32)
  if (entriesLba > BigInt(Number.MAX_SAFE_INTEGER) || alternateLba > BigInt(Number.MAX_SAFE_INTEGER)) return undefined
  return { entriesLba: Number(entriesLba), count, entrySize, entriesCrc: buf.readUInt32LE(88), alternateLba: Number(alternateLba), diskGuid: formatGuid(buf, 56) }
}

async function tryTable(disk: BlockSource, ss: number, lba: number, signal?: AbortSignal): Promise<{ header: GptHeader; entries: Buffer } | undefined> {
  if (lba < 1 || (lba + 1) * ss > disk.size) return undefined
  const header = parseHeader(await disk.read(lba * ss, ss, signal))
  if (!header) return undefined
  const bytes = header.count * header.entrySize
  if (header.entriesLba * ss + bytes > disk.size) return undefined
  const entries = await readStructure(disk, header.entriesLba * ss, bytes, 'GPT partition entries', signal)
  if (crc32(entries) !== header.entriesCrc) return undefined
  return { header, entries }
}

/** GPT with its checksums verified; when the primary header or table is damaged the backup at the disk's end is used. */
export async function readGpt(disk: BlockSource, signal?: AbortSignal): Promise<PartitionTable> {
  for (const ss of [512, 4096]) {
    const warnings: string[] = []
    let found = await tryTable(disk, ss, 1, signal)
    if (!found) {
      const lastLba = Math.floor(disk.size / ss) - 1
      found = await tryTable(disk, ss, lastLba, signal)
      if (found) warnings.push('The primary GPT is damaged; the backup copy at the end of the disk was used.')
    }
    if (!found) continue
    const { header, entries } = found
    const partitions: PartitionEntry[] = []
    for (let i = 0; i < header.count; i++) {
      const e = entries.subarray(i * header.entrySize, (i + 1) * header.entrySize)
      if (isZeroGuid(e, 0)) continue
      const first = e.readBigUInt64LE(32)
      const last = e.readBigUInt64LE(40)
      const maxLba = BigInt(Math.floor(disk.size / ss))
      if (last < first || last >= maxLba) {
        warnings.push(`GPT entry ${i + 1} lies outside the disk and was skipped.`)
        continue
      }
      const type = formatGuid(e, 0)
      const name = e.toString('utf16le', 56, 128).replace(/\0.*$/s, '')
      partitions.push({
        index: i + 1,
        scheme: 'gpt',
        start: Number(first) * ss,
        size: Number(last - first + 1n) * ss,
        type,
        typeName: gptTypeName(type),
        ...(name ? { name } : {}),
        uuid: formatGuid(e, 16),
      })
    }
    return { scheme: 'gpt', sectorSize: ss, diskId: header.diskGuid, partitions, warnings }
  }
  throw new DiskFormatError('bad-checksum', `${disk.label}: neither the primary nor the backup GPT is valid`)
}
