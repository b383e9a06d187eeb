import type { Writable } from 'node:stream'
import { RepositoryError, toRepositoryError } from '../errors.js'
import { loadManifest } from '../points.js'
import { PointDiskSource, readsAhead } from '../read/point-disk.js'
import { inputFromDisk, writePieces, type ExportInput, type Piece } from './pieces.js'
import { rawImage } from './raw-writer.js'
import { qcow2Image } from './qcow2-writer.js'
import { vhdImage } from './vhd-writer.js'
import { vhdxImage } from './vhdx-writer.js'
import type { ProgressSink } from '../../common/progress.js'
import type { RepoContext } from '../context.js'

export type ExportFormat = 'raw' | 'qcow2' | 'vhd' | 'vhdx'
export const EXPORT_FORMATS: readonly ExportFormat[] = ['raw', 'qcow2', 'vhd', 'vhdx']

export interface ExportOptions {
  readonly pointId: string
  readonly disk: string
  readonly format: ExportFormat
  /** A file path (zero regions become holes) or a stream (zeros are written). */
  readonly output: string | Writable
  readonly signal?: AbortSignal
  readonly progress?: ProgressSink
}

export interface ExportResult {
  readonly format: ExportFormat
  readonly virtualSize: number
  readonly bytesWritten: number
}

const WRITERS: Record<ExportFormat, (input: ExportInput, signal?: AbortSignal) => AsyncGenerator<Piece>> = {
  raw: rawImage,
  qcow2: qcow2Image,
  vhd: vhdImage,
  vhdx: vhdxImage,
}

/**
 * An opened restore-point disk as an image file, piece by piece (bytes, or runs of zeros a writer may leave as holes),
 * for writers that are neither a local file nor a stream — an adapter uploading a disk to a host.
 */
export function encodeDisk(source: PointDiskSource, format: ExportFormat, signal?: AbortSignal, prefetch = 4): AsyncGenerator<Piece> {
  const writer = WRITERS[format] as ((input: ExportInput, signal?: AbortSignal) => AsyncGenerator<Piece>) | undefined
  if (writer === undefined) throw new RepositoryError('EXPORT_UNSUPPORTED', `"${format}" is not an export format.`, { format })
  return writer(inputFromDisk(source, prefetch), signal)
}

/** Streams one disk of a restore point out as an image any hypervisor opens: nothing stays locked in. */
export async function exportDisk(ctx: RepoContext, options: ExportOptions): Promise<ExportResult> {
  const writer = WRITERS[options.format] as ((input: ExportInput, signal?: AbortSignal) => AsyncGenerator<Piece>) | undefined
  if (writer === undefined) throw new RepositoryError('EXPORT_UNSUPPORTED', `"${options.format}" is not an export format.`, { format: options.format })
  const manifest = await loadManifest(ctx, options.pointId, options.signal)
  const record = manifest.disks.find((d) => d.name === options.disk)
  if (record === undefined) {
    throw new RepositoryError('DISK_NOT_FOUND', `Restore point ${options.pointId} has no disk "${options.disk}".`, { pointId: options.pointId, disk: options.disk })
  }
  const source = new PointDiskSource(ctx, manifest, record, { cacheChunks: 1 })
  try {
    // A file output is written (or copied into staging) before the next chunk is asked for: chunks are recycled.
    const base = inputFromDisk(source, readsAhead(ctx), typeof options.output === 'string')
    const progress = options.progress ?? (() => undefined)
    let done = 0
    const input: ExportInput = {
      ...base,
      async *chunks(signal?: AbortSignal) {
        for await (const chunk of base.chunks(signal)) {
          yield chunk
          done += chunk.length
          progress({ phase: 'export', bytesDone: done, bytesTotal: record.size, detail: `${options.format} of ${record.name}` })
        }
      },
    }
    const bytesWritten = await writePieces(writer(input, options.signal), options.output, options.signal)
    return { format: options.format, virtualSize: record.size, bytesWritten }
  } catch (error) {
    throw toRepositoryError(error, 'exporting a disk')
  } finally {
    await source.close()
  }
}
