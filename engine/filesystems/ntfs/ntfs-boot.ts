import { ByteView } from '../../disks/byte-view'
import { FilesystemError, corrupt } from '../errors'

export interface NtfsBoot {
  readonly bytesPerSector: number
  readonly clusterSize: number
  readonly totalBytes: number
  readonly mftOffset: number
  readonly recordSize: number
  readonly indexBlockSize: number
  readonly serial: string
}

/** Sizes given in clusters, or as a negative power of two in bytes when smaller than a cluster. */
function sizeField(value: number, clusterSize: number): number {
  return value > 0 ? value * clusterSize : 2 ** -value
}

export function parseNtfsBoot(buf: Buffer, label: string): NtfsBoot {
  const v = new ByteView(buf, corrupt(label), 'NTFS boot sector')
  if (v.ascii(3, 8) !== 'NTFS    ') throw new FilesystemError('unknown-filesystem', `${label}: no NTFS boot sector`)
  const bps = v.u16le(11)
  const spcRaw = v.u8(13)
  const spc = spcRaw > 0x80 ? 2 ** (256 - spcRaw) : spcRaw
  if (![512, 1024, 2048, 4096].includes(bps) || spc === 0 || (spc & (spc - 1)) !== 0 || spc * bps > 2 * 1024 * 1024) {
    throw new FilesystemError('corrupt', `${label}: NTFS sector/cluster sizes are invalid`)
  }
  const clusterSize = bps * spc
  const recordSize = sizeField(v.i8(64), clusterSize)
  const indexBlockSize = sizeField(v.i8(68), clusterSize)
  if (recordSize < 512 || recordSize > 65536 || (recordSize & (recordSize - 1)) !== 0) throw new FilesystemError('corrupt', `${label}: NTFS MFT record size ${recordSize} is invalid`)
  if (indexBlockSize < 512 || indexBlockSize > 65536 || (indexBlockSize & (indexBlockSize - 1)) !== 0) throw new FilesystemError('corrupt', `${label}: NTFS index block size is invalid`)
  const totalSectors = v.u64le(40)
  return {
    bytesPerSector: bps,
    clusterSize,
    totalBytes: totalSectors * bps,
    mftOffset: v.u64le(48) * clusterSize,
    recordSize,
    indexBlockSize,
    serial: v.big64le(72).toString(16).toUpperCase().padStart(16, '0'),
  }
}
