import type { BlockSource } from '../disks/block-source'
import { BtrfsDriver } from './btrfs/btrfs-driver'
import { detectVolumeContent } from './detect'
import { FilesystemError } from './errors'
import { ExtDriver } from './ext/ext-driver'
import { FatDriver } from './fat/fat-driver'
import { GenericVolume } from './generic-volume'
import { NtfsDriver } from './ntfs/ntfs-driver'
import type { Volume } from './types'
import { VolumeReader } from './volume-reader'
import { XfsDriver } from './xfs/xfs-driver'

const NAMES: Record<string, string> = {
  'lvm2-pv': 'an LVM physical volume (open its logical volumes instead)',
  swap: 'Linux swap space',
  exfat: 'exFAT (not supported yet)',
  luks: 'a LUKS-encrypted volume (cannot be read without its key)',
}

/**
 * Detects the filesystem in a volume (partition, logical volume or whole disk) and opens it for browsing.
 * The volume source stays owned by the caller: closing the Volume does not close it.
 */
export async function openVolume(source: BlockSource, options: { signal?: AbortSignal } = {}): Promise<Volume> {
  const content = await detectVolumeContent(source, options.signal)
  const reader = new VolumeReader(source)
  switch (content) {
    case 'ext':
      return new GenericVolume(await ExtDriver.open(reader, options.signal))
    case 'xfs':
      return new GenericVolume(await XfsDriver.open(reader, options.signal))
    case 'btrfs':
      return new GenericVolume(await BtrfsDriver.open(reader, options.signal))
    case 'ntfs':
      return new GenericVolume(await NtfsDriver.open(reader, options.signal))
    case 'fat':
      return new GenericVolume(await FatDriver.open(reader, options.signal))
    case 'unknown':
      throw new FilesystemError('unknown-filesystem', `${source.label}: no supported filesystem found (ext2/3/4, XFS, btrfs, NTFS, FAT)`)
    default:
      throw new FilesystemError('unsupported', `${source.label} holds ${NAMES[content] ?? content}`, { content })
  }
}
