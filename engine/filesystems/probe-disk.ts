import type { BlockSource } from '../disks/block-source'
import { DiskFormatError } from '../disks/errors'
import { SliceSource } from '../disks/slice-source'
import { detectVolume, type Detection, type VolumeContent } from './detect'
import { AmbiguousVolumeError } from './detect-conflict'
import { FilesystemError } from './errors'
import { readLvmPv, type LvmPv } from './lvm/lvm-label'
import { assembleVolumeGroups, type VolumeGroup } from './lvm/lvm-volumes'
import { openVolume } from './open-volume'
import { readGpt } from './partitions/gpt'
import { hasProtectiveMbr, looksLikeMbr, readMbr } from './partitions/mbr'
import type { PartitionEntry, PartitionTable } from './partitions/partition-types'
import type { FilesystemType } from './types'

export interface FilesystemSummary {
  readonly type: FilesystemType
  readonly label: string
  readonly uuid: string
  readonly size: number
  readonly warnings: readonly string[]
}

/** One browsable-or-not place on a disk: the whole disk, a partition or a logical volume. */
export interface VolumeNode {
  /** How to name it in a locator: 'disk', 'p2', 'lvm:vg/lv' (with `diskIndex` when several disks are probed). */
  readonly locator: string
  readonly diskIndex: number
  readonly kind: 'whole-disk' | 'partition' | 'logical-volume'
  readonly size: number
  readonly partition?: PartitionEntry
  /** 'ambiguous': two filesystems' signatures that both hold up (`problem` names them). */
  readonly content: VolumeContent | 'ambiguous'
  readonly filesystem?: FilesystemSummary
  readonly lvm?: { readonly vg: string; readonly lv?: string; readonly pvUuid?: string }
  /** Why it cannot be browsed (damaged, unsupported, missing PV…), in plain words. */
  readonly problem?: string
}

export interface DiskTree {
  readonly disks: readonly { readonly label: string; readonly size: number; readonly table?: Omit<PartitionTable, 'partitions'> }[]
  readonly volumes: readonly VolumeNode[]
  readonly volumeGroups: readonly VolumeGroup[]
}

export interface ProbedDisks {
  readonly tree: DiskTree
  /** A source for a volume of the tree (owned by the disks: closing it is a no-op). */
  readonly sourceFor: (node: VolumeNode) => BlockSource
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

function typed(e: unknown): boolean {
  return e instanceof DiskFormatError || e instanceof FilesystemError
}

async function summarise(source: BlockSource, signal?: AbortSignal): Promise<{ content: VolumeContent | 'ambiguous'; filesystem?: FilesystemSummary; problem?: string }> {
  let detection: Detection
  try {
    detection = await detectVolume(source, signal)
  } catch (e) {
    if (e instanceof AmbiguousVolumeError) return { content: 'ambiguous', problem: e.message }
    throw e
  }
  const { content, setAside } = detection
  if (content !== 'ext' && content !== 'xfs' && content !== 'btrfs' && content !== 'ntfs' && content !== 'fat') return { content }
  try {
    const v = await openVolume(source, signal ? { signal } : {})
    const { type, label, uuid, size, warnings } = v.info
    await v.close()
    return { content, filesystem: { type, label, uuid, size, warnings: [...warnings, ...setAside.map((s) => s.why)] } }
  } catch (e) {
    if (!typed(e)) throw e
    return { content, problem: message(e) }
  }
}

async function readTable(disk: BlockSource, signal?: AbortSignal): Promise<PartitionTable | undefined> {
  if (disk.size < 512) return undefined
  const sector0 = await disk.read(0, 512, signal)
  if (hasProtectiveMbr(sector0)) return readGpt(disk, signal)
  // A filesystem on the whole disk, even one whose signatures are ambiguous, means no partition table.
  const content = await detectVolume(disk, signal).then(
    (d) => d.content,
    (e: unknown) => {
      if (e instanceof AmbiguousVolumeError) return 'ambiguous'
      throw e
    },
  )
  if (content !== 'unknown') return undefined
  if (looksLikeMbr(sector0)) return readMbr(disk, signal)
  // A GPT without a protective MBR (some tools, damaged sector 0): try it before calling the disk empty.
  return readGpt(disk, signal).catch((e: unknown) => {
    if (e instanceof DiskFormatError) return undefined
    throw e
  })
}

/**
 * Builds the tree disk(s) → partitions / logical volumes → filesystem. Several disks can be probed together so
 * that volume groups spanning them are assembled. Nothing here writes, and nothing asks the host's LVM.
 */
export async function probeDisks(disks: readonly BlockSource[], options: { signal?: AbortSignal } = {}): Promise<ProbedDisks> {
  const signal = options.signal
  const volumes: VolumeNode[] = []
  const sources = new Map<VolumeNode, BlockSource>()
  const pvs: LvmPv[] = []
  const diskInfo: DiskTree['disks'][number][] = []
  for (const [diskIndex, disk] of disks.entries()) {
    const table = await readTable(disk, signal)
    if (table) {
      const { partitions: _partitions, ...rest } = table
      diskInfo.push({ label: disk.label, size: disk.size, table: rest })
    } else diskInfo.push({ label: disk.label, size: disk.size })
    const places: { node: Omit<VolumeNode, 'content'>; source: BlockSource }[] = table
      ? table.partitions.map((p) => ({
          node: { locator: `p${p.index}`, diskIndex, kind: 'partition' as const, size: p.size, partition: p },
          source: new SliceSource(disk, p.start, p.size, `${disk.label} partition ${p.index}`),
        }))
      : [{ node: { locator: 'disk', diskIndex, kind: 'whole-disk' as const, size: disk.size }, source: disk }]
    for (const { node, source } of places) {
      const s = await summarise(source, signal)
      let extra: Partial<VolumeNode> = {}
      if (s.content === 'lvm2-pv') {
        try {
          const pv = await readLvmPv(source, signal)
          pvs.push(pv)
          const vg = pv.metadata ? Object.keys(pv.metadata).find((k) => typeof pv.metadata?.[k] === 'object' && !Array.isArray(pv.metadata[k])) : undefined
          extra = { lvm: { vg: vg ?? '', pvUuid: pv.pvUuid } }
        } catch (e) {
          if (!typed(e)) throw e
          extra = { problem: message(e) }
        }
      }
      const full: VolumeNode = { ...node, content: s.content, ...(s.filesystem ? { filesystem: s.filesystem } : {}), ...(s.problem ? { problem: s.problem } : {}), ...extra }
      volumes.push(full)
      sources.set(full, source)
    }
  }
  const { groups, open } = assembleVolumeGroups(pvs)
  for (const g of groups) {
    const firstPv = volumes.find((v) => v.lvm?.vg === g.name)
    for (const lv of g.lvs) {
      const base = { locator: `lvm:${g.name}/${lv.name}`, diskIndex: firstPv?.diskIndex ?? 0, kind: 'logical-volume' as const, size: lv.size, lvm: { vg: g.name, lv: lv.name } }
      if (lv.problem) {
        volumes.push({ ...base, content: 'unknown', problem: lv.problem })
        continue
      }
      const source = open(g.name, lv.name)
      const s = await summarise(source, signal)
      const node: VolumeNode = { ...base, content: s.content, ...(s.filesystem ? { filesystem: s.filesystem } : {}), ...(s.problem ? { problem: s.problem } : {}) }
      volumes.push(node)
      sources.set(node, source)
    }
  }
  return {
    tree: { disks: diskInfo, volumes, volumeGroups: groups },
    sourceFor: (node) => {
      const s = sources.get(node)
      if (!s) throw new FilesystemError('bad-locator', `${node.locator} cannot be opened${node.problem ? `: ${node.problem}` : ''}`)
      return s
    },
  }
}

export async function probeDisk(disk: BlockSource, options: { signal?: AbortSignal } = {}): Promise<ProbedDisks> {
  return probeDisks([disk], options)
}
