import { ByteView } from '../../disks/byte-view'
import { FilesystemError, corrupt } from '../errors'
import type { FilesystemType } from '../types'

/** FAT12/16/32 boot sector (BPB) geometry, per Microsoft's FAT specification (fatgen103). */
export interface FatGeometry {
  readonly type: Extract<FilesystemType, 'fat12' | 'fat16' | 'fat32'>
  readonly bytesPerSector: number
  readonly clusterSize: number
  readonly fatOffset: number
  readonly fatBytes: number
  readonly rootDirOffset: number
  readonly rootDirBytes: number
  readonly dataOffset: number
  readonly clusterCount: number
  readonly rootCluster: number
  readonly totalBytes: number
  readonly serial: string
}

export function parseFatBoot(buf: Buffer, label: string): FatGeometry {
  const v = new ByteView(buf, corrupt(label), 'FAT boot sector')
  const bps = v.u16le(11)
  const spc = v.u8(13)
  const reserved = v.u16le(14)
  const fats = v.u8(16)
  const rootEntries = v.u16le(17)
  const total = v.u16le(19) || v.u32le(32)
  const fatSectors16 = v.u16le(22)
  const fatSectors = fatSectors16 || v.u32le(36)
  if (![512, 1024, 2048, 4096].includes(bps) || spc === 0 || (spc & (spc - 1)) !== 0 || fats === 0 || reserved === 0 || fatSectors === 0 || total === 0) {
    throw new FilesystemError('corrupt', `${label}: the FAT boot sector has impossible geometry`)
  }
  const rootDirSectors = Math.ceil((rootEntries * 32) / bps)
  const firstData = reserved + fats * fatSectors + rootDirSectors
  if (firstData >= total) throw new FilesystemError('corrupt', `${label}: the FAT data area starts beyond the end of the filesystem`)
  const clusterCount = Math.floor((total - firstData) / spc)
  // A zero 16-bit FAT size is what marks FAT32, as Linux (kernel and libblkid) reads it: mkfs.fat makes FAT32 with
  // fewer than 65525 clusters on small volumes, and counting clusters (fatgen103) would call those FAT12/16 and read
  // a root directory that is not there. FAT12 and FAT16 are told apart by their cluster count.
  const type = fatSectors16 === 0 ? 'fat32' : clusterCount < 4085 ? 'fat12' : 'fat16'
  const isFat32 = type === 'fat32'
  if (isFat32 && rootEntries !== 0) throw new FilesystemError('corrupt', `${label}: a FAT32 boot sector with a fixed root directory`)
  const serialAt = isFat32 ? 67 : 39
  const hasExtBoot = v.u8(isFat32 ? 66 : 38) === 0x29
  const entryBits = type === 'fat12' ? 12 : type === 'fat16' ? 16 : 32
  if (Math.ceil(((clusterCount + 2) * entryBits) / 8) > fatSectors * bps) throw new FilesystemError('corrupt', `${label}: the FAT is too small for ${clusterCount} clusters`)
  // FAT32 with mirroring disabled names its one active FAT; otherwise all copies are equal and the first is used.
  const extFlags = isFat32 ? v.u16le(40) : 0
  const activeFat = extFlags & 0x80 ? extFlags & 0x0f : 0
  return {
    type,
    bytesPerSector: bps,
    clusterSize: spc * bps,
    fatOffset: (reserved + Math.min(activeFat, fats - 1) * fatSectors) * bps,
    fatBytes: fatSectors * bps,
    rootDirOffset: (reserved + fats * fatSectors) * bps,
    rootDirBytes: rootDirSectors * bps,
    dataOffset: firstData * bps,
    clusterCount,
    rootCluster: isFat32 ? v.u32le(44) : 0,
    totalBytes: total * bps,
    serial: hasExtBoot ? v.u32le(serialAt).toString(16).padStart(8, '0').toUpperCase().replace(/^(.{4})/, '$1-') : '',
  }
}
