import type { BlockSource } from '../disks/block-source'
import type { VolumeContent } from './volume-content'
import { FilesystemError } from './errors'
import { checkExt } from './ext/ext-consistency'
import { parseNtfsBoot } from './ntfs/ntfs-boot'

/** A signature found on the volume but set aside, and why. */
export interface SetAside {
  readonly content: VolumeContent
  readonly why: string
}

/** Two filesystems' signatures that both hold up: the reader refuses to guess which one is current. */
export class AmbiguousVolumeError extends FilesystemError {
  constructor(
    label: string,
    readonly candidates: readonly string[],
  ) {
    super(
      'unknown-filesystem',
      `${label} carries two filesystems' signatures that both look intact: ${candidates.join(' and ')}. One is left over from an earlier format, ` +
        'and Lifeboat will not guess which one holds the current files (blkid refuses such a volume too; `wipefs --no-act` on it lists both).',
      { candidates: candidates.join(', ') },
    )
  }
}

const NAMES: Partial<Record<VolumeContent, string>> = { xfs: 'XFS', ntfs: 'NTFS', exfat: 'exFAT', luks: 'LUKS' }

async function peek(source: BlockSource, offset: number, length: number, signal?: AbortSignal): Promise<Buffer | undefined> {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > source.size) return undefined
  return source.read(offset, length, signal)
}

/**
 * Whether an NTFS boot sector is more than a signature, as libblkid decides: the fields NTFS leaves zero are zero,
 * $MFT and $MFTMirr lie inside the volume, and the record at $MFT is an in-use MFT record ('FILE').
 */
async function ntfsProblem(source: BlockSource, head: Buffer, signal?: AbortSignal): Promise<{ where: string; problem?: string }> {
  let where = 'boot sector at byte 0'
  try {
    const boot = parseNtfsBoot(head, source.label)
    where = `boot sector at byte 0, $MFT at byte ${boot.mftOffset}`
    const zeroFields = [head.readUInt16LE(14), head[16] ?? 0, head.readUInt16LE(17), head.readUInt16LE(19), head.readUInt16LE(22), head.readUInt32LE(32)]
    if (zeroFields.some((f) => f !== 0)) return { where, problem: 'its boot sector has FAT fields set that NTFS leaves zero' }
    const end = Math.min(boot.totalBytes + boot.bytesPerSector, source.size)
    const mirror = Number(head.readBigUInt64LE(56)) * boot.clusterSize
    if (boot.mftOffset + boot.recordSize > end || mirror + boot.recordSize > end) return { where, problem: '$MFT or $MFTMirr lies outside the volume' }
    const record = await peek(source, boot.mftOffset, boot.recordSize, signal)
    if (!record || record.toString('latin1', 0, 4) !== 'FILE' || ((record[22] ?? 0) & 1) === 0) return { where, problem: `no MFT record is at its $MFT (byte ${boot.mftOffset})` }
    return { where }
  } catch (e) {
    if (e instanceof FilesystemError) return { where, problem: e.message }
    throw e
  }
}

/**
 * A volume with a signature in its first sector (`first`: NTFS, XFS, exFAT, LUKS) and an ext superblock at byte
 * 1024. Neither mkfs leaves the other's signature (mke2fs clears the first KiB, mkntfs the first 8), but other
 * formatters and partial copies do. Like blkid: the one whose structures hold up wins; when both do, refuse.
 */
export async function settleFirstSectorAndExt(
  source: BlockSource,
  first: VolumeContent,
  head: Buffer,
  superblock: Buffer,
  signal?: AbortSignal,
): Promise<{ content: VolumeContent; setAside: SetAside[] }> {
  const ext = await checkExt(source, superblock, signal)
  const other = first === 'ntfs' ? await ntfsProblem(source, head, signal) : { where: 'signature at byte 0' }
  const firstName = `${NAMES[first] ?? first} (${other.where})`
  const extName = `${ext.name} (superblock at byte 1024)`
  if (ext.problem === undefined) {
    if (other.problem === undefined) throw new AmbiguousVolumeError(source.label, [extName, firstName])
    return { content: 'ext', setAside: [{ content: first, why: `An old ${firstName} is also on this volume; it was ignored because ${other.problem}.` }] }
  }
  return { content: first, setAside: [{ content: 'ext', why: `An old ${extName} is also on this volume; it was ignored because ${ext.problem}.` }] }
}
