import type { BlockSource } from '../../disks/block-source'
import { readStructure } from '../../disks/source-read'
import { isData, isExtended, mbrSlots, type MbrSlot, type PartitionCollector } from './mbr-entries'

/** Linux stops after 100 boot records without data, the kernel after 100 records; this reader after 128. */
const MAX_EBRS = 128

/**
 * Follows the chain of extended boot records the way Linux (kernel, libblkid/partx) and The Sleuth Kit read it:
 * every data slot of a record is a logical partition, its start relative to that record; the first extended
 * slot links to the next record, its start relative to the extended partition. Most tools write one partition
 * and one link per record, but Windows and others may put several partitions in one.
 */
export async function readEbrChain(disk: BlockSource, extended: MbrSlot, sectorSize: number, out: PartitionCollector, signal?: AbortSignal): Promise<void> {
  const extStart = extended.lbaStart
  const extEnd = extStart + extended.sectors
  const totalSectors = Math.floor(disk.size / sectorSize)
  const seen = new Set<number>()
  let ebr = extStart
  // The space the link gave this record: slots 3 and 4 must fit in it to count (libblkid's check for junk there).
  let ebrSectors = extended.sectors
  for (let n = 0; ; n++) {
    signal?.throwIfAborted()
    if (n === MAX_EBRS) {
      out.warnings.push(`The chain of logical partitions has more than ${MAX_EBRS} records; it was cut there.`)
      return
    }
    if (seen.has(ebr)) {
      out.warnings.push('The chain of logical partitions loops back on itself; it was cut there.')
      return
    }
    seen.add(ebr)
    if (ebr >= totalSectors) {
      out.warnings.push(`A logical partition record (sector ${ebr}) lies beyond the end of the disk; later logical partitions are missing.`)
      return
    }
    const sector = await readStructure(disk, ebr * sectorSize, sectorSize, 'extended boot record', signal)
    if (sector.readUInt16LE(510) !== 0xaa55) {
      out.warnings.push(`The extended boot record at sector ${ebr} is damaged; later logical partitions are missing.`)
      return
    }
    const slots = mbrSlots(sector)
    slots.forEach((slot, i) => {
      if (!isData(slot)) return
      const what = `The logical partition in entry ${i + 1} of the extended boot record at sector ${ebr}`
      const start = ebr + slot.lbaStart
      if (slot.lbaStart === 0) {
        out.warnings.push(`${what} starts on that record itself and was skipped.`)
        return
      }
      if (start < extStart || start >= extEnd) {
        out.warnings.push(`${what} (sector ${start}) lies outside the extended partition (sectors ${extStart}–${extEnd - 1}) and was skipped.`)
        return
      }
      if (start + slot.sectors > extEnd) {
        if (i >= 2) {
          out.warnings.push(`${what} runs past the end of the extended partition and was skipped.`)
          return
        }
        out.warnings.push(`${what} runs past the end of the extended partition.`)
      } else if (i >= 2 && slot.lbaStart + slot.sectors > ebrSectors) {
        out.warnings.push(`${what} does not fit in the space its record was given and was skipped.`)
        return
      }
      out.add(slot, start, 5 + out.logicalCount, true, what)
    })
    const links = slots.filter((s) => isExtended(s) && s.sectors > 0)
    const link = links[0]
    if (!link || link.lbaStart === 0) return
    if (links.length > 1) out.warnings.push(`The extended boot record at sector ${ebr} links to ${links.length} further records; only the first was followed (as Linux does).`)
    const next = extStart + link.lbaStart
    if (next >= extEnd) {
      out.warnings.push(`The extended boot record at sector ${ebr} links to sector ${next}, outside the extended partition; later logical partitions are missing.`)
      return
    }
    ebr = next
    ebrSectors = link.sectors
  }
}
