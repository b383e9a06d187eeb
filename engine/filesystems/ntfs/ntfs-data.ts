import { streamRunData, streamRuns, type DataRun } from '../data-runs'
import { FilesystemError } from '../errors'
import type { DataPiece } from '../types'
import type { VolumeReader } from '../volume-reader'
import { lznt1Decompress } from './lznt1'
import { ATTR_FLAG_COMPRESSED, ATTR_FLAG_ENCRYPTED, type NtfsAttr, type NtfsRun } from './ntfs-record'

/**
 * Streams [start, end) of an attribute's value: resident bytes, plain or sparse runs, or LZNT1 compression units.
 * Bytes past the initialized size read as zeros (Windows never wrote them).
 */
export async function* streamAttr(reader: VolumeReader, attr: NtfsAttr, clusterSize: number, start: number, end: number, signal?: AbortSignal): AsyncIterable<Buffer> {
  if (end <= start) return
  if (attr.flags & ATTR_FLAG_ENCRYPTED) throw new FilesystemError('unsupported', `${reader.label}: this file is encrypted with EFS and cannot be read without the user's certificate`)
  if (attr.resident) {
    const slice = attr.value.subarray(start, end)
    yield Buffer.concat([slice, Buffer.alloc(end - start - slice.length)])
    return
  }
  if (attr.flags & ATTR_FLAG_COMPRESSED && attr.compressionUnit > 0) {
    yield* streamCompressed(reader, attr, clusterSize, start, end, signal)
    return
  }
  yield* streamRuns(reader, initializedRuns(attr, clusterSize), start, end, signal)
}

/**
 * The attribute's stored data as pieces: sparse runs, compression units with no clusters and the part past the
 * initialized size are holes and are skipped without reading.
 */
export async function* attrData(reader: VolumeReader, attr: NtfsAttr, clusterSize: number, signal?: AbortSignal): AsyncIterable<DataPiece> {
  const size = attr.realSize
  if (attr.resident || (attr.flags & ATTR_FLAG_COMPRESSED && attr.compressionUnit > 0) || attr.flags & ATTR_FLAG_ENCRYPTED) {
    const unitBytes = attr.resident ? size : 2 ** Math.min(attr.compressionUnit, 8) * clusterSize
    let offset = 0
    for await (const data of streamAttr(reader, attr, clusterSize, 0, size, signal)) {
      // A compression unit with no clusters is a hole; skipping it keeps a huge sparse compressed file cheap.
      const sparseUnit = !attr.resident && unitBytes > 0 && runsIn(attr.runs, Math.floor(offset / clusterSize), Math.ceil(data.length / clusterSize)).every((r) => r.lcn === null)
      if (!sparseUnit) yield { offset, data }
      offset += data.length
    }
    return
  }
  yield* streamRunData(reader, initializedRuns(attr, clusterSize), 0, Math.min(size, attr.initializedSize), signal)
}

/** Bytes of clusters the attribute really holds (sparse runs excluded). */
export function attrAllocated(attr: NtfsAttr, clusterSize: number): number {
  if (attr.resident) return attr.value.length
  let clusters = 0
  for (const r of attr.runs) if (r.lcn !== null) clusters += r.clusters
  return clusters * clusterSize
}

function* initializedRuns(attr: NtfsAttr, cs: number): Iterable<DataRun> {
  const init = attr.initializedSize
  for (const r of attr.runs) {
    const logical = r.vcn * cs
    const length = r.clusters * cs
    if (logical >= init || r.lcn === null) continue
    yield { logical, length: Math.min(length, init - logical), physical: r.lcn * cs }
  }
}

/** The runs covering clusters [vcn, vcn+count), in order. */
function runsIn(runs: readonly NtfsRun[], vcn: number, count: number): NtfsRun[] {
  const out: NtfsRun[] = []
  for (const r of runs) {
    const a = Math.max(r.vcn, vcn)
    const b = Math.min(r.vcn + r.clusters, vcn + count)
    if (b > a) out.push({ vcn: a, clusters: b - a, lcn: r.lcn === null ? null : r.lcn + (a - r.vcn) })
  }
  return out
}

async function* streamCompressed(reader: VolumeReader, attr: NtfsAttr, cs: number, start: number, end: number, signal?: AbortSignal): AsyncIterable<Buffer> {
  if (attr.compressionUnit > 8) throw new FilesystemError('unsupported', `${reader.label}: compression unit 2^${attr.compressionUnit} clusters is not supported`)
  if (cs > 4096) throw new FilesystemError('unsupported', `${reader.label}: compressed files on volumes with clusters over 4 KiB are not supported`)
  const unitClusters = 2 ** attr.compressionUnit
  const unitBytes = unitClusters * cs
  const init = attr.initializedSize
  for (let unit = Math.floor(start / unitBytes); unit * unitBytes < end; unit++) {
    signal?.throwIfAborted()
    const runs = runsIn(attr.runs, unit * unitClusters, unitClusters)
    const allocated = runs.reduce((n, r) => n + (r.lcn === null ? 0 : r.clusters), 0)
    let data: Buffer
    if (allocated === 0) data = Buffer.alloc(unitBytes)
    else {
      const parts: Buffer[] = []
      for (const r of runs) if (r.lcn !== null) parts.push(await reader.data(r.lcn * cs, r.clusters * cs, 'compressed file data', signal))
      const raw = Buffer.concat(parts)
      // A unit stored in full is not compressed; a shorter one (sparse tail) holds LZNT1 chunks.
      data = allocated >= unitClusters ? raw : lznt1Decompress(raw, unitBytes, reader.label)
    }
    const unitStart = unit * unitBytes
    if (unitStart + unitBytes > init) data.fill(0, Math.max(0, init - unitStart))
    const from = Math.max(start, unitStart) - unitStart
    const to = Math.min(end, unitStart + unitBytes) - unitStart
    yield data.subarray(from, to)
  }
}
