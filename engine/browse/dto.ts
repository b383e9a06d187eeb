import type { DiskTreeDto, FsEntryDto, VolumeDto } from '../api/contract-files'
import type { ImageSource } from '../disks/image-types'
import type { DiskTree } from '../filesystems/probe-disk'
import type { FsEntry } from '../filesystems/types'

export function toEntryDto(e: FsEntry): FsEntryDto {
  return {
    name: e.name,
    type: e.type,
    size: e.size,
    ...(e.mtime ? { mtime: e.mtime.toISOString() } : {}),
    ...(e.ctime ? { ctime: e.ctime.toISOString() } : {}),
    ...(e.birthtime ? { birthtime: e.birthtime.toISOString() } : {}),
    ...(e.mode !== undefined ? { mode: e.mode } : {}),
    ...(e.uid !== undefined ? { uid: e.uid } : {}),
    ...(e.gid !== undefined ? { gid: e.gid } : {}),
    ...(e.attributes !== undefined ? { attributes: e.attributes } : {}),
    ...(e.symlinkTarget !== undefined ? { symlinkTarget: e.symlinkTarget } : {}),
    ...(e.streams && e.streams.length > 0 ? { streams: e.streams.map((s) => ({ name: s.name, size: s.size })) } : {}),
  }
}

export function toTreeDto(tree: DiskTree, images: readonly ImageSource[]): DiskTreeDto {
  return {
    disks: tree.disks.map((d, i) => ({
      label: d.label,
      size: d.size,
      format: images[i]?.format ?? 'raw',
      ...(d.table ? { table: d.table.scheme } : {}),
    })),
    volumes: tree.volumes.map(
      (v): VolumeDto => ({
        locator: v.locator,
        disk: v.diskIndex + 1,
        kind: v.kind,
        size: v.size,
        content: v.content,
        ...(v.filesystem
          ? { filesystem: { type: v.filesystem.type, label: v.filesystem.label, uuid: v.filesystem.uuid, size: v.filesystem.size, warnings: [...v.filesystem.warnings] } }
          : {}),
        ...(v.partition?.name ? { partitionName: v.partition.name } : {}),
        ...(v.lvm ? { lvm: { vg: v.lvm.vg, ...(v.lvm.lv !== undefined ? { lv: v.lvm.lv } : {}) } } : {}),
        ...(v.problem !== undefined ? { problem: v.problem } : {}),
      }),
    ),
  }
}

/** Folders first, then names in natural order, as a file manager shows them. */
export function compareEntries(a: FsEntry, b: FsEntry): number {
  const dir = (e: FsEntry) => (e.type === 'directory' ? 0 : 1)
  return dir(a) - dir(b) || a.name.localeCompare(b.name, undefined, { numeric: true, sensitivity: 'base' })
}
