import { posix } from 'node:path'
import type { BackupDisk } from '../../adapters/host-adapter'
import type { BlockSource } from '../disks/block-source'
import { DiskFormatError } from '../disks/errors'
import { openImageSource } from '../disks/open-image'
import { RangedSource } from '../disks/ranged-source'
import { alignToChunks, type IngestDisk } from '../repository'
import { ChangedOverParent } from './changed-over-parent'

/** Remote random reads for ingest: 4 MiB blocks (one per repository chunk of a sequentially written image) amortise each remote dd; 8 in flight hide the latency. */
const REMOTE_BLOCK = 4 * 1024 * 1024
const REMOTE_IN_FLIGHT = 8
/** Data runs one allocation-map stream may name (the host adapter's limit for one remote command line). */
const MAX_STREAM_RANGES = 1024

export interface PreparedDisk {
  readonly ingest: IngestDisk
  close(): Promise<void>
}

export interface PrepareOptions {
  /**
   * The same disk in the previous restore point (same name and size), for incrementals: the unchanged bytes of the
   * chunks a change touches are taken from it, so the host sends only what changed (see ChangedOverParent).
   */
  readonly parentDisk?: (name: string, size: number) => Promise<BlockSource | undefined>
  /** Where to say that a raw disk is read whole because its host could not tell where its data is. */
  readonly log?: (message: string) => void
}

/**
 * Turns what an adapter hands out for a disk into what the repository ingests:
 * - a raw file or device: its fast sequential stream (one `cat`/`dd` at link speed);
 * - an image file (qcow2, VHD, VHDX): random reads through a RangedSource, decoded by engine/disks, backing chains
 *   opened through the adapter (which only allows files the host itself listed in the chain);
 * - already-decoded guest bytes (an NBD export): as they are, with the changed ranges of an incremental.
 */
export async function prepareDisk(disk: BackupDisk, signal: AbortSignal, options: PrepareOptions = {}): Promise<PreparedDisk> {
  const meta = disk.meta === undefined ? {} : { meta: JSON.parse(JSON.stringify(disk.meta)) as IngestDisk['meta'] }
  const readout = disk.readout
  if (readout.kind === 'guest') {
    const parent = readout.changedRanges !== undefined ? await options.parentDisk?.(disk.name, readout.disk.size) : undefined
    const source: BlockSource = parent !== undefined ? new ChangedOverParent(readout.disk, parent, readout.changedRanges ?? []) : readout.disk
    const ingest: IngestDisk = { name: disk.name, source, ...(readout.changedRanges !== undefined ? { changedRanges: readout.changedRanges } : {}), ...meta }
    return { ingest, close: () => source.close() }
  }
  if (readout.format === 'raw') {
    const file = readout.file
    const allocation = await readout.allocation?.(signal)
    if (allocation?.known === true) {
      // Whole chunks of data only: the holes between them never cross the wire.
      const dataRanges = alignToChunks(allocation.dataRanges, file.size, MAX_STREAM_RANGES)
      return { ingest: { name: disk.name, stream: allocation.stream(dataRanges, signal), size: file.size, dataRanges, ...meta }, close: () => file.close() }
    }
    if (allocation !== undefined) options.log?.(`${disk.name}: read whole, holes included (${allocation.reason}).`)
    return { ingest: { name: disk.name, stream: file.stream(0, file.size, signal), size: file.size, ...meta }, close: () => file.close() }
  }
  const remote = (f: { path: string; size: number; readRange: (o: number, l: number, s?: AbortSignal) => Promise<Buffer>; close: () => Promise<void> }): RangedSource =>
    new RangedSource({ size: f.size, label: f.path, readRange: (o, l, s) => f.readRange(o, l, s), blockSize: REMOTE_BLOCK, maxInFlight: REMOTE_IN_FLIGHT, cacheBlocks: 64, onClose: () => f.close() })
  const container = remote(readout.file)
  try {
    const image = await openImageSource(container, {
      signal,
      resolveParent: async (locator, sig) => {
        const tried: string[] = []
        for (const candidate of locator.candidates) {
          const full = posix.isAbsolute(candidate) ? posix.normalize(candidate) : posix.join(posix.dirname(locator.child), candidate)
          try {
            return remote(await readout.openRelated(full, sig ?? signal))
          } catch (err) {
            tried.push(`${full} (${err instanceof Error ? err.message : String(err)})`)
          }
        }
        throw new DiskFormatError('missing-parent', `${locator.child}: backing file not readable: ${tried.join('; ') || 'none recorded'}`)
      },
    })
    if (readout.changedRanges === undefined) return { ingest: { name: disk.name, source: image, ...meta }, close: () => image.close() }
    const parent = await options.parentDisk?.(disk.name, image.size)
    const source: BlockSource = parent !== undefined ? new ChangedOverParent(image, parent, readout.changedRanges) : image
    return { ingest: { name: disk.name, source, changedRanges: readout.changedRanges, ...meta }, close: () => source.close() }
  } catch (err) {
    await container.close()
    throw err
  }
}
