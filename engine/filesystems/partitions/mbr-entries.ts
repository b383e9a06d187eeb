import { mbrTypeName, type PartitionEntry } from './partition-types'

/** One 16-byte slot of an MBR or extended boot record (the 4 slots start at byte 446). */
export interface MbrSlot {
  readonly status: number
  readonly type: number
  readonly lbaStart: number
  readonly sectors: number
}

/** DOS (0x05), Windows LBA (0x0f) and Linux (0x85) extended partitions: the types Linux follows. */
const EXTENDED = new Set([0x05, 0x0f, 0x85])

export function mbrSlots(sector: Buffer): MbrSlot[] {
  const out: MbrSlot[] = []
  for (let i = 0; i < 4; i++) {
    const o = 446 + i * 16
    out.push({ status: sector[o] ?? 0, type: sector[o + 4] ?? 0, lbaStart: sector.readUInt32LE(o + 8), sectors: sector.readUInt32LE(o + 12) })
  }
  return out
}

export function isExtended(slot: MbrSlot): boolean {
  return EXTENDED.has(slot.type)
}

/** A slot that describes a partition holding data (not empty, not a link to more boot records). */
export function isData(slot: MbrSlot): boolean {
  return slot.type !== 0 && slot.sectors > 0 && !isExtended(slot)
}

/**
 * Collects partitions, refusing out loud what cannot be right: a start beyond the disk, and (for logical
 * partitions) an overlap with a partition already taken. A tail past the end of the disk is cut with a warning.
 */
export class PartitionCollector {
  readonly partitions: PartitionEntry[] = []
  readonly warnings: string[] = []

  constructor(
    private readonly totalSectors: number,
    private readonly sectorSize: number,
  ) {}

  get logicalCount(): number {
    return this.partitions.filter((p) => p.logical === true).length
  }

  /** `what` names the entry in warnings ("Partition 2", "The logical partition in entry 3 of …"). */
  add(slot: MbrSlot, start: number, index: number, logical: boolean, what: string): boolean {
    const ss = this.sectorSize
    let sectors = slot.sectors
    if (start >= this.totalSectors) {
      this.warnings.push(`${what} starts beyond the end of the disk and was skipped.`)
      return false
    }
    if (logical) {
      const other = this.partitions.find((p) => start * ss < p.start + p.size && p.start < (start + sectors) * ss)
      if (other) {
        this.warnings.push(`${what} (sectors ${start}–${start + sectors - 1}) overlaps partition ${other.index} and was skipped.`)
        return false
      }
    }
    if (start + sectors > this.totalSectors) {
      this.warnings.push(`${what} runs past the end of the disk and was cut to fit.`)
      sectors = this.totalSectors - start
    }
    this.partitions.push({
      index,
      scheme: 'mbr',
      start: start * ss,
      size: sectors * ss,
      type: slot.type.toString(16).padStart(2, '0'),
      typeName: mbrTypeName(slot.type),
      bootable: slot.status === 0x80,
      ...(logical ? { logical: true } : {}),
    })
    return true
  }
}
