import type { BlockSource } from '../disks/block-source'
import { settleFirstSectorAndExt, type SetAside } from './detect-conflict'
import type { VolumeContent } from './volume-content'

export type { VolumeContent } from './volume-content'

export interface Detection {
  readonly content: VolumeContent
  /** Other filesystems' signatures found on the volume and set aside as leftovers, with the reason. */
  readonly setAside: readonly SetAside[]
}

async function peek(source: BlockSource, offset: number, length: number, signal?: AbortSignal): Promise<Buffer | undefined> {
  if (offset + length > source.size) return undefined
  return source.read(offset, length, signal)
}

/** The signatures that live in the first sector; at most one of them can be there. */
function firstSectorContent(head: Buffer): VolumeContent | undefined {
  if (head.toString('latin1', 0, 4) === 'XFSB') return 'xfs'
  if (head.toString('latin1', 3, 11) === 'NTFS    ') return 'ntfs'
  if (head.toString('latin1', 3, 11) === 'EXFAT   ') return 'exfat'
  if (head.toString('latin1', 0, 6) === 'LUKS\xba\xbe') return 'luks'
  return undefined
}

/**
 * Finds the filesystem of a volume. A first-sector signature and an ext superblock at byte 1024 can both be
 * present after a reformat; then the structures behind each are checked and the one that holds up wins, or an
 * AmbiguousVolumeError names both (see detect-conflict.ts). Other signatures keep their order of precedence.
 */
export async function detectVolume(source: BlockSource, signal?: AbortSignal): Promise<Detection> {
  const one = (content: VolumeContent): Detection => ({ content, setAside: [] })
  const head = await peek(source, 0, Math.min(4096, source.size), signal)
  if (!head || head.length < 512) return one('unknown')
  const first = firstSectorContent(head)
  const sb = await peek(source, 1024, 1024, signal)
  const ext = sb !== undefined && sb.readUInt16LE(56) === 0xef53
  if (first && sb && ext) return settleFirstSectorAndExt(source, first, head, sb, signal)
  if (first) return one(first)
  for (let s = 0; s < 4; s++) if (head.length >= s * 512 + 8 && head.toString('latin1', s * 512, s * 512 + 8) === 'LABELONE') return one('lvm2-pv')
  if (ext) return one('ext')
  if (looksLikeFat(head)) return one('fat')
  if (head.length >= 4096 && head.toString('latin1', 4086, 4096) === 'SWAPSPACE2') return one('swap')
  const btrfs = await peek(source, 65536 + 64, 8, signal)
  if (btrfs?.toString('latin1') === '_BHRfS_M') return one('btrfs')
  return one('unknown')
}

export async function detectVolumeContent(source: BlockSource, signal?: AbortSignal): Promise<VolumeContent> {
  return (await detectVolume(source, signal)).content
}

/** A FAT boot sector: a jump, a power-of-two sector size, a power-of-two cluster, FATs and a signature. */
export function looksLikeFat(b: Buffer): boolean {
  if (b.length < 512) return false
  const jump = b[0]
  if (jump !== 0xeb && jump !== 0xe9) return false
  const bps = b.readUInt16LE(11)
  const spc = b[13] ?? 0
  const fats = b[16] ?? 0
  const reserved = b.readUInt16LE(14)
  const media = b[21] ?? 0
  const pow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0
  return [512, 1024, 2048, 4096].includes(bps) && pow2(spc) && fats >= 1 && fats <= 4 && reserved >= 1 && (media === 0xf0 || media >= 0xf8)
}
