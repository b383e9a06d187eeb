import type { BlockSource } from '../../disks/block-source'
import { DiskFormatError } from '../../disks/errors'
import { readStructure } from '../../disks/source-read'
import { readEbrChain } from './ebr-chain'
import { PartitionCollector, isExtended, mbrSlots, type MbrSlot } from './mbr-entries'
import type { PartitionTable } from './partition-types'

export const PROTECTIVE_GPT = 0xee

/** Whether sector 0 is a plausible MBR: signature, sane status bytes, and at least one used entry. */
export function looksLikeMbr(sector0: Buffer): boolean {
  if (sector0.length < 512 || sector0.readUInt16LE(510) !== 0xaa55) return false
  const es = mbrSlots(sector0)
  return es.every((e) => e.status === 0 || e.status === 0x80) && es.some((e) => e.type !== 0 && e.sectors > 0)
}

export function hasProtectiveMbr(sector0: Buffer): boolean {
  return looksLikeMbr(sector0) && mbrSlots(sector0).some((e) => e.type === PROTECTIVE_GPT)
}

/** Primary partitions plus the chain of extended boot records (logical partitions), loop- and bounds-checked. */
export async function readMbr(disk: BlockSource, signal?: AbortSignal): Promise<PartitionTable> {
  const ss = 512
  const sector0 = await readStructure(disk, 0, ss, 'MBR', signal)
  if (!looksLikeMbr(sector0)) throw new DiskFormatError('bad-signature', `${disk.label} has no MBR partition table`)
  const out = new PartitionCollector(Math.floor(disk.size / ss), ss)
  const extended: MbrSlot[] = []
  mbrSlots(sector0).forEach((e, i) => {
    if (e.type === 0 || e.sectors === 0) return
    if (isExtended(e)) extended.push(e)
    else out.add(e, e.lbaStart, i + 1, false, `Partition ${i + 1}`)
  })
  // Linux follows every extended partition of the MBR (normally there is one), numbering on from the last.
  for (const e of extended) await readEbrChain(disk, e, ss, out, signal)
  return { scheme: 'mbr', sectorSize: ss, diskId: sector0.readUInt32LE(440).toString(16).padStart(8, '0'), partitions: out.partitions, warnings: out.warnings }
}
