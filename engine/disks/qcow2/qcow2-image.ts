import { assertReadInBounds, type BlockSource, type Extent } from '../block-source'
import { openParent, readFromParent, type ImageOpener } from '../chain-read'
import { DiskFormatError } from '../errors'
import type { ImageSource, OpenImageOptions } from '../image-types'
import { LruCache } from '../lru-cache'
import { readStructure, readStructureInto } from '../source-read'
import { decompressCluster } from './qcow2-decompress'
import { readQcow2Header, type Qcow2Header } from './qcow2-header'

const OFFSET_MASK = 0x00fffffffffffe00n
const COMPRESSED = 1n << 62n
const ZERO_FLAG = 1n

/** How one stretch of guest bytes is stored. */
type Run =
  | { readonly kind: 'data'; readonly host: number; readonly length: number }
  | { readonly kind: 'zero' | 'backing'; readonly length: number }
  | { readonly kind: 'compressed'; readonly entry: bigint; readonly skip: number; readonly length: number }

/**
 * qcow2 v2/v3: a two-level table (L1 → L2 → cluster). Supports backing files, zero clusters, compressed clusters
 * (zlib and zstd) and extended L2 entries (subclusters). Refcounts are irrelevant for reading and ignored.
 */
export class Qcow2Image implements ImageSource {
  readonly format = 'qcow2' as const
  readonly size: number
  private readonly clusterSize: number
  private readonly l2Entries: number
  private readonly l2Cache = new LruCache<number, Buffer>(128)
  private readonly clusterCache = new LruCache<bigint, Buffer>(32)

  private constructor(
    readonly container: BlockSource,
    private readonly header: Qcow2Header,
    private readonly l1: BigUint64Array,
    readonly parent: ImageSource | undefined,
  ) {
    this.size = header.size
    this.clusterSize = 2 ** header.clusterBits
    this.l2Entries = this.clusterSize / (header.extendedL2 ? 16 : 8)
  }

  static async open(container: BlockSource, options: OpenImageOptions, openImage: ImageOpener): Promise<Qcow2Image> {
    const header = await readQcow2Header(container, options.signal)
    if (header.l1Size * 8 > container.size) throw new DiskFormatError('truncated', `${container.label}: the qcow2 L1 table is larger than the file`)
    const raw = await readStructure(container, header.l1Offset, header.l1Size * 8, 'qcow2 L1 table', options.signal)
    const l1 = new BigUint64Array(header.l1Size)
    for (let i = 0; i < header.l1Size; i++) l1[i] = raw.readBigUInt64BE(i * 8)
    let parent: ImageSource | undefined
    if (header.backingFile !== undefined) {
      parent = await openParent(
        { child: container.label, candidates: [header.backingFile], ...(header.backingFormat !== undefined ? { formatHint: header.backingFormat } : {}) },
        options,
        openImage,
      )
    }
    return new Qcow2Image(container, header, l1, parent)
  }

  get label(): string {
    return this.container.label
  }

  private async l2Table(l1Index: number, signal?: AbortSignal): Promise<Buffer | undefined> {
    const entry = this.l1[l1Index] ?? 0n
    const offset = Number(entry & OFFSET_MASK)
    if (offset === 0) return undefined
    if (offset % this.clusterSize !== 0) throw new DiskFormatError('corrupt', `${this.label}: L2 table offset ${offset} is not cluster-aligned`)
    let table = this.l2Cache.get(offset)
    if (!table) {
      table = await readStructure(this.container, offset, this.clusterSize, 'qcow2 L2 table', signal)
      this.l2Cache.set(offset, table)
    }
    return table
  }

  /** Describes the guest bytes at `at` up to the end of its cluster (or subcluster), capped at `max`. */
  private async runAt(at: number, max: number, signal?: AbortSignal): Promise<Run> {
    return this.runIn(await this.l2Table(Math.floor(at / this.clusterSize / this.l2Entries), signal), at, max)
  }

  /** runAt with the L2 table that covers `at` already in hand (undefined: that table is not allocated). */
  private runIn(l2: Buffer | undefined, at: number, max: number): Run {
    const cs = this.clusterSize
    const cluster = Math.floor(at / cs)
    const inCluster = at - cluster * cs
    const length = Math.min(max, cs - inCluster)
    if (!l2) return { kind: 'backing', length }
    const stride = this.header.extendedL2 ? 16 : 8
    const e = l2.readBigUInt64BE((cluster % this.l2Entries) * stride)
    if (e & COMPRESSED) return { kind: 'compressed', entry: e, skip: inCluster, length }
    const host = Number(e & OFFSET_MASK)
    if (host !== 0 && host % cs !== 0) throw new DiskFormatError('corrupt', `${this.label}: data cluster offset ${host} is not cluster-aligned`)
    if (!this.header.extendedL2) {
      if (this.header.version >= 3 && e & ZERO_FLAG) return { kind: 'zero', length }
      return host === 0 ? { kind: 'backing', length } : { kind: 'data', host: host + inCluster, length }
    }
    const bitmap = l2.readBigUInt64BE((cluster % this.l2Entries) * stride + 8)
    const sc = cs / 32
    const sub = Math.floor(inCluster / sc)
    const subLength = Math.min(length, sc - (inCluster % sc))
    if ((bitmap >> BigInt(sub)) & 1n) {
      if (host === 0) throw new DiskFormatError('corrupt', `${this.label}: a subcluster is marked allocated in an unallocated cluster`)
      return { kind: 'data', host: host + inCluster, length: subLength }
    }
    if ((bitmap >> BigInt(32 + sub)) & 1n) return { kind: 'zero', length: subLength }
    return { kind: 'backing', length: subLength }
  }

  private async compressedCluster(entry: bigint, signal?: AbortSignal): Promise<Buffer> {
    const cached = this.clusterCache.get(entry)
    if (cached) return cached
    const bits = this.header.clusterBits
    const x = BigInt(62 - (bits - 8))
    const host = Number(entry & ((1n << x) - 1n))
    const sectors = Number((entry >> x) & ((1n << BigInt(bits - 8)) - 1n)) + 1
    const stored = Math.min(sectors * 512 - (host % 512), this.container.size - host)
    if (stored <= 0) throw new DiskFormatError('truncated', `${this.label}: a compressed cluster lies beyond the end of the file`)
    const data = await readStructure(this.container, host, stored, 'qcow2 compressed cluster', signal)
    const out = decompressCluster(data, this.clusterSize, this.header.compression, this.label)
    this.clusterCache.set(entry, out)
    return out
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    const out = Buffer.allocUnsafe(length)
    await this.readInto(out, offset, signal)
    return out
  }

  /** Fills all of `out` with the disk's bytes from `offset`: data clusters are read straight into it, not copied. */
  async readInto(out: Buffer, offset: number, signal?: AbortSignal): Promise<void> {
    const length = out.length
    assertReadInBounds(this, offset, length)
    let pos = 0
    while (pos < length) {
      signal?.throwIfAborted()
      let run = await this.runAt(offset + pos, length - pos, signal)
      // Coalesce physically contiguous data runs into one read: big sequential reads are what makes extraction fast.
      while (run.kind === 'data' && pos + run.length < length) {
        const next = await this.runAt(offset + pos + run.length, length - pos - run.length, signal)
        if (next.kind !== 'data' || next.host !== run.host + run.length || run.length >= 16 * 1024 * 1024) break
        run = { kind: 'data', host: run.host, length: run.length + next.length }
      }
      switch (run.kind) {
        case 'data':
          await readStructureInto(this.container, run.host, out.subarray(pos, pos + run.length), 'qcow2 data cluster', signal)
          break
        case 'zero':
          out.fill(0, pos, pos + run.length)
          break
        case 'backing':
          ;(await readFromParent(this.parent, offset + pos, run.length, signal)).copy(out, pos)
          break
        case 'compressed':
          ;(await this.compressedCluster(run.entry, signal)).copy(out, pos, run.skip, run.skip + run.length)
          break
      }
      pos += run.length
    }
  }

  /**
   * Data and zero stretches, neighbours of one kind joined: one L2 table is fetched per span it covers and scanned
   * without awaiting each cluster (a 2 GiB disk has 32,768 of 64 KiB).
   */
  async *extents(signal?: AbortSignal): AsyncIterable<Extent> {
    const span = this.clusterSize * this.l2Entries
    let pending: { offset: number; length: number; kind: Extent['kind'] } | undefined
    let at = 0
    while (at < this.size) {
      signal?.throwIfAborted()
      const table = Math.floor(at / span)
      const l2 = await this.l2Table(table, signal)
      const end = Math.min(this.size, (table + 1) * span)
      const out: Extent[] = []
      while (at < end) {
        const run = l2 === undefined ? { kind: 'backing' as const, length: end - at } : this.runIn(l2, at, end - at)
        const kind = run.kind === 'zero' || (run.kind === 'backing' && !this.parent) ? 'zero' : 'data'
        if (pending !== undefined && pending.kind === kind) pending.length += run.length
        else {
          if (pending !== undefined) out.push(pending)
          pending = { offset: at, length: run.length, kind }
        }
        at += run.length
      }
      yield* out
    }
    if (pending !== undefined) yield pending
  }

  async close(): Promise<void> {
    try {
      await this.parent?.close()
    } finally {
      await this.container.close()
    }
  }
}
