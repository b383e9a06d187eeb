import type { BackupDisk } from '../../adapters/host-adapter'
import { ApiError } from '../api/contract-errors'
import type { BlockSource } from '../disks/block-source'
import { RangedSource } from '../disks/ranged-source'
import { openImage, type OpenedImage } from '../filesystems/browse'
import { prepareDisk, type PreparedDisk } from '../jobs/disk-ingest'
import { connectHost, findHost, findVm, type HostAccessDeps } from '../inventory/host-access'

export interface LiveSnapshotRef {
  readonly host: string
  readonly vm: string
  readonly snapshot: string
  readonly disks?: readonly string[]
}

/**
 * A disk as random-access guest bytes: image formats decoded by prepareDisk; raw files and guest bytes the host
 * serves (an NBD export of a snapshot) read in cached, overlapping ranges, since a filesystem reader asks for many
 * small pieces and each would otherwise be a round trip to the host.
 */
async function guestSource(disk: BackupDisk, signal: AbortSignal): Promise<{ source: BlockSource; close(): Promise<void> }> {
  const readout = disk.readout
  if (readout.kind === 'file' && readout.format === 'raw') {
    const file = readout.file
    const source = new RangedSource({ size: file.size, label: file.label, readRange: (o, l, s) => file.readRange(o, l, s), blockSize: 1024 * 1024, maxInFlight: 16, cacheBlocks: 64, onClose: () => file.close() })
    return { source, close: () => source.close() }
  }
  if (readout.kind === 'guest' && readout.changedRanges === undefined) {
    const guest = readout.disk
    const source = new RangedSource({ size: guest.size, label: guest.label, readRange: (o, l, s) => guest.read(o, l, s), blockSize: 256 * 1024, maxInFlight: 16, cacheBlocks: 256, onClose: () => guest.close() })
    return { source, close: () => source.close() }
  }
  const prepared: PreparedDisk = await prepareDisk(disk, signal)
  if (!('source' in prepared.ingest)) {
    await prepared.close()
    throw new ApiError('NOT_SUPPORTED', `Disk ${disk.name} cannot be read at random offsets.`)
  }
  return { source: prepared.ingest.source, close: () => prepared.close() }
}

/**
 * Browsing a snapshot that still exists on its host: the adapter hands out the snapshot's disk files (read in place,
 * nothing mounted or copied on the host) and the same image/partition/filesystem stack as for restore points reads
 * them. The host connection lives as long as the opened image.
 */
export async function openLiveSnapshot(deps: HostAccessDeps, ref: LiveSnapshotRef, signal?: AbortSignal): Promise<OpenedImage> {
  const sig = signal ?? AbortSignal.timeout(600_000)
  const record = await findHost(deps, ref.host)
  const adapter = await connectHost(deps, record, sig)
  const opened: { source: BlockSource; close(): Promise<void> }[] = []
  try {
    const openDisks = adapter.snapshots?.openDisks?.bind(adapter.snapshots)
    if (openDisks === undefined) throw new ApiError('NOT_SUPPORTED', `${record.name} cannot open snapshots for browsing in this version of Lifeboat.`)
    const vm = await findVm(adapter, record.name, ref.vm, sig)
    const disks = await openDisks(vm.id, ref.snapshot, sig)
    const wanted = ref.disks === undefined ? disks : disks.filter((d) => ref.disks?.includes(d.name) === true || ref.disks?.includes(d.id) === true)
    for (const d of disks) if (!wanted.includes(d)) await (d.readout.kind === 'file' ? d.readout.file.close() : d.readout.disk.close()).catch(() => undefined)
    if (wanted.length === 0) throw new ApiError('NOT_FOUND', `The snapshot has no disk ${ref.disks?.join(', ') ?? ''}.`)
    for (const d of wanted) opened.push(await guestSource(d, sig))
    const image = await openImage(
      opened.map((o) => o.source),
      { guestDisks: true, ...(signal ? { signal } : {}) },
    )
    return {
      ...image,
      close: async () => {
        await image.close()
        for (const o of opened) await o.close().catch(() => undefined)
        await adapter.close().catch(() => undefined)
      },
    }
  } catch (err) {
    for (const o of opened) await o.close().catch(() => undefined)
    await adapter.close().catch(() => undefined)
    throw err
  }
}
