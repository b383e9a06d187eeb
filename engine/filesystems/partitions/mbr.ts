import type { BlockSource } from '../../disks/block-source'
import { DiskFormatError } from '../../disks/errors'
import { readStructure } from '../../disks/source-read'
import { mbrTypeName, type PartitionEntry, type PartitionTable } from './partition-types'

const EXTENDED = new Set([0x05, 0x0f, 0x85])
export const PROTECTIVE_GPT = 0xee
const MAX_LOGICAL = 128

interface RawEntry {
  readonly status: number
  readonly type: number
  readonly lbaStart: number
  readonly sectors: number
}

function entries(sector: Buffer): RawEntry[] {
  const out: RawEntry[] = []
  for (let i = 0; i < 4; i++) {
    const o = 446 + i * 16
    out.push({ status: sector[o] ?? 0, type: sector[o + 4] ?? 0, lbaStart: sector.readUInt32LE(o + 8), sectors: sector.readUInt32LE(o + 12) })
  }
  return out
}

/** Whether sector 0 is a plausible MBR: signature, sane status bytes, and at least one used entry. */
export function looksLikeMbr(sector0: Buffer): boolean {
  if (sector0.length < 512 || sector0.readUInt16LE(510) !== 0xaa55) return false
  const es = entries(sector0)
  return es.every((e) => e.status === 0 || e.status === 0x80) && es.some((e) => e.type !== 0 && e.sectors > 0)
}

export function hasProtectiveMbr(sector0: Buffer): boolean {
  return looksLikeMbr(sector0) && entries(sector0).some((e) => e.type === PROTECTIVE_GPT)
}

/** Primary partitions plus the chain of extended boot records (logical partitions), loop- and bounds-checked. */
export async function readMbr(disk: BlockSource, signal?: AbortSignal): Promise<PartitionTable> {
  const ss = 512
  const sector0 = await readStructure(disk, 0, ss, 'MBR', signal)
  if (!looksLikeMbr(sector0)) throw new DiskFormatError('bad-signature', `${disk.label} has no MBR partition table`)
  const totalSectors = Math.floor(disk.size / ss)
  const warnings: string[] = []
  const partitions: PartitionEntry[] = []
  const add = (e: RawEntry, base: number, index: number, logical: boolean): void => {
    const start = base + e.lbaStart
    let sectors = e.sectors
    if (start >= totalSectors) {
      warnings.push(`Partition ${index} starts beyond the end of the disk and was skipped.`)
      return
    }
    if (start + sectors > totalSectors) {
      warnings.push(`Partition ${index} runs past the end of the disk and was cut to fit.`)
      sectors = totalSectors - start
    }
    partitions.push({
      index,
      scheme: 'mbr',
      start: start * ss,
      size: sectors * ss,
      type: e.type.toString(16).padStart(2, '0'),
      typeName: mbrTypeName(e.type),
      bootable: e.status === 0x80,
      ...(logical ? { logical: true } : {}),
    })
  }
  const primaries = entries(sector0)
  let extended: RawEntry | undefined
  primaries.forEach((e, i) => {
    if (e.type === 0 || e.sectors === 0) return
    if (EXTENDED.has(e.type)) extended = extended ?? e
    else add(e, 0, i + 1, false)
  })
  if (extended) {
    const extStart = extended.lbaStart
    const seen = new Set<number>()
    let ebr = extStart
    for (let n = 0; n < MAX_LOGICAL; n++) {
      signal?.throwIfAborted()
      if (seen.has(ebr)) {
        warnings.push('The chain of logical partitions loops back on itself; it was cut there.')
        break
      }
      seen.add(ebr)
      if (ebr >= totalSectors) {
        warnings.push('A logical partition record lies beyond the end of the disk.')
        break
      }
      const sector = await readStructure(disk, ebr * ss, ss, 'extended boot record', signal)
      if (sector.readUInt16LE(510) !== 0xaa55) {
        warnings.push('An extended boot record is damaged; later logical partitions are missing.')
        break
      }
      const [logical, next] = entries(sector)
      if (logical && logical.type !== 0 && logical.sectors > 0) add(logical, ebr, 5 + partitions.filter((p) => p.logical === true).length, true)
      if (!next || next.type === 0 || next.lbaStart === 0) break
      ebr = extStart + next.lbaStart
    }
  }
  return { scheme: 'mbr', sectorSize: ss, diskId: sector0.readUInt32LE(440).toString(16).padStart(8, '0'), partitions, warnings }
}
