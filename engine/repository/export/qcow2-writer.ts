import { CHUNK_SIZE } from '../format.js'
import { data, zeros, type ExportInput, type Piece } from './pieces.js'

/**
 * qcow2 version 3, written front to back in one pass (layout from the qcow2 specification in QEMU's docs):
 *   cluster 0: header (104 bytes) + end-of-extensions marker
 *   L1 table · refcount table · refcount blocks · L2 tables · data clusters (in guest order)
 * Every size is known up front from the chunk list, so no seeking is needed. Zero chunks stay unallocated
 * (they read as zeros: there is no backing file); 64 KiB clusters, 16-bit refcounts, all refcounts 1.
 */
const CLUSTER_BITS = 16
const C = 1 << CLUSTER_BITS
const L2_ENTRIES = C / 8
const REFCOUNTS_PER_BLOCK = C / 2
const CLUSTERS_PER_CHUNK = CHUNK_SIZE / C
const COPIED = 1n << 63n

export interface Qcow2Layout {
  readonly l1Entries: number
  readonly l1Clusters: number
  readonly refTableClusters: number
  readonly refBlocks: number
  /** Indices of the L2 tables that exist (those covering at least one allocated cluster). */
  readonly l2Tables: readonly number[]
  readonly dataClusters: number
  readonly totalClusters: number
}

export function qcow2Layout(input: Pick<ExportInput, 'size' | 'zeroChunks'>): Qcow2Layout {
  const virtualClusters = Math.ceil(input.size / C)
  const l1Entries = Math.max(1, Math.ceil(virtualClusters / L2_ENTRIES))
  const l1Clusters = Math.ceil((l1Entries * 8) / C)
  const l2Set = new Set<number>()
  let dataClusters = 0
  input.zeroChunks.forEach((zero, i) => {
    if (zero) return
    const first = i * CLUSTERS_PER_CHUNK
    const count = Math.ceil(Math.min(CHUNK_SIZE, input.size - i * CHUNK_SIZE) / C)
    dataClusters += count
    for (let v = first; v < first + count; v += L2_ENTRIES) l2Set.add(Math.floor(v / L2_ENTRIES))
    l2Set.add(Math.floor((first + count - 1) / L2_ENTRIES))
  })
  const l2Tables = [...l2Set].sort((a, b) => a - b)
  // The refcount structures count themselves, so grow them until they cover the whole file.
  let refBlocks = 1
  let refTableClusters = 1
  for (;;) {
    const total = 1 + l1Clusters + refTableClusters + refBlocks + l2Tables.length + dataClusters
    const needBlocks = Math.ceil(total / REFCOUNTS_PER_BLOCK)
    const needTable = Math.ceil((needBlocks * 8) / C)
    if (needBlocks <= refBlocks && needTable <= refTableClusters) {
      return { l1Entries, l1Clusters, refTableClusters, refBlocks, l2Tables, dataClusters, totalClusters: total }
    }
    refBlocks = Math.max(refBlocks, needBlocks)
    refTableClusters = Math.max(refTableClusters, needTable)
  }
}

export async function* qcow2Image(input: ExportInput, signal?: AbortSignal): AsyncGenerator<Piece> {
  const layout = qcow2Layout(input)
  const l1At = 1
  const refTableAt = l1At + layout.l1Clusters
  const refBlocksAt = refTableAt + layout.refTableClusters
  const l2At = refBlocksAt + layout.refBlocks
  const dataAt = l2At + layout.l2Tables.length

  const header = Buffer.alloc(C)
  header.writeUInt32BE(0x514649fb, 0)
  header.writeUInt32BE(3, 4)
  header.writeUInt32BE(CLUSTER_BITS, 20)
  // QEMU rounds a qcow2 size *down* to whole sectors; rounding up keeps the disk's last bytes.
  header.writeBigUInt64BE(BigInt(Math.ceil(input.size / 512) * 512), 24)
  header.writeUInt32BE(layout.l1Entries, 36)
  header.writeBigUInt64BE(BigInt(l1At * C), 40)
  header.writeBigUInt64BE(BigInt(refTableAt * C), 48)
  header.writeUInt32BE(layout.refTableClusters, 56)
  header.writeUInt32BE(4, 96)
  header.writeUInt32BE(104, 100)
  // Bytes 104..111 stay zero: the end-of-header-extensions marker (type 0, length 0).
  yield data(header)

  const l1 = Buffer.alloc(layout.l1Clusters * C)
  layout.l2Tables.forEach((t, k) => l1.writeBigUInt64BE(BigInt((l2At + k) * C) | COPIED, t * 8))
  yield data(l1)

  const refTable = Buffer.alloc(layout.refTableClusters * C)
  for (let b = 0; b < layout.refBlocks; b++) refTable.writeBigUInt64BE(BigInt((refBlocksAt + b) * C), b * 8)
  yield data(refTable)

  for (let b = 0; b < layout.refBlocks; b++) {
    const block = Buffer.alloc(C)
    const first = b * REFCOUNTS_PER_BLOCK
    const count = Math.max(0, Math.min(REFCOUNTS_PER_BLOCK, layout.totalClusters - first))
    for (let k = 0; k < count; k++) block.writeUInt16BE(1, k * 2)
    yield data(block)
  }

  // Host position of each allocated guest cluster: data clusters follow guest order, chunk by chunk.
  const chunksBefore = new Int32Array(input.zeroChunks.length + 1)
  input.zeroChunks.forEach((zero, i) => (chunksBefore[i + 1] = (chunksBefore[i] ?? 0) + (zero ? 0 : 1)))
  for (const t of layout.l2Tables) {
    signal?.throwIfAborted()
    const table = Buffer.alloc(C)
    for (let e = 0; e < L2_ENTRIES; e++) {
      const v = t * L2_ENTRIES + e
      if (v * C >= input.size) break
      const chunk = Math.floor(v / CLUSTERS_PER_CHUNK)
      if (input.zeroChunks[chunk] !== false) continue
      const rank = (chunksBefore[chunk] ?? 0) * CLUSTERS_PER_CHUNK + (v - chunk * CLUSTERS_PER_CHUNK)
      table.writeBigUInt64BE(BigInt((dataAt + rank) * C) | COPIED, e * 8)
    }
    yield data(table)
  }

  let i = 0
  for await (const chunk of input.chunks(signal)) {
    if (input.zeroChunks[i++] === false) {
      yield data(chunk)
      const tail = (C - (chunk.length % C)) % C
      if (tail > 0) yield zeros(tail)
    }
  }
}
