import type { BlockSource } from '../../disks/block-source'
import { FilesystemError } from '../errors'
import { VolumeReader } from '../volume-reader'
import { descriptorBlock, parseExtSuperblock } from './ext-superblock'

export interface ExtCheck {
  /** "ext2 \"label\"" — how to name this filesystem to the admin. */
  readonly name: string
  /** Why its structures do not hold up (a stale superblock), or undefined when they do. */
  readonly problem?: string
}

/**
 * Whether an ext superblock is more than a signature: it parses, the first group descriptor places its bitmaps
 * and inode table inside the filesystem with counts that fit a group, and inode 2 there is a directory. Used only
 * when another filesystem's signature shares the volume, to tell the current filesystem from a leftover.
 */
export async function checkExt(source: BlockSource, superblock: Buffer, signal?: AbortSignal): Promise<ExtCheck> {
  let name = 'ext'
  try {
    const sb = parseExtSuperblock(superblock, source.size, source.label)
    name = sb.label ? `${sb.type} "${sb.label}"` : sb.type
    const reader = new VolumeReader(source, 4)
    const desc = await reader.meta(descriptorBlock(sb, 0) * sb.blockSize, sb.descSize, 'group descriptor 0', signal)
    const wide = sb.descSize >= 64
    const u32 = (lo: number, hi: number): number => desc.readUInt32LE(lo) + (wide ? desc.readUInt32LE(hi) * 2 ** 32 : 0)
    const u16 = (lo: number, hi: number): number => desc.readUInt16LE(lo) + (wide ? desc.readUInt16LE(hi) * 65536 : 0)
    const itableBlocks = Math.ceil((sb.inodesPerGroup * sb.inodeSize) / sb.blockSize)
    const places = [u32(0, 0x20), u32(4, 0x24)]
    const table = u32(8, 0x28)
    if (places.some((b) => b <= sb.firstDataBlock || b >= sb.blocksCount) || table <= sb.firstDataBlock || table + itableBlocks > sb.blocksCount) {
      return { name, problem: 'its first group descriptor points outside the filesystem' }
    }
    if (u16(12, 0x2c) > sb.blocksPerGroup || u16(14, 0x2e) > sb.inodesPerGroup || u16(16, 0x30) > sb.inodesPerGroup) {
      return { name, problem: 'its first group descriptor counts more than a group holds' }
    }
    const root = await reader.meta(table * sb.blockSize + sb.inodeSize, 2, 'root inode', signal)
    if ((root.readUInt16LE(0) & 0o170000) !== 0o040000) return { name, problem: 'its root inode is not a directory' }
    return { name }
  } catch (e) {
    if (e instanceof FilesystemError) return { name, problem: e.message }
    throw e
  }
}
