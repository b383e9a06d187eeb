import { fromSync } from '../async-iter'
import { assertReadInBounds, type BlockSource, type Extent } from '../block-source'
import { openParent, readFromParent, readSectorRuns, type ImageOpener } from '../chain-read'
import { DiskFormatError } from '../errors'
import type { ImageSource, OpenImageOptions } from '../image-types'
import { LruCache } from '../lru-cache'
import { readStructure, readStructureInto } from '../source-read'
import { OverlaySource } from '../overlay-source'
import { replayVhdxLog } from './vhdx-log'
import { readVhdxHeader, readVhdxMetadata, readVhdxRegions, type VhdxMetadata } from './vhdx-structures'

const MiB = 1024 * 1024
const PAYLOAD_NOT_PRESENT = 0
const PAYLOAD_UNDEFINED = 1
const PAYLOAD_ZERO = 2
const PAYLOAD_UNMAPPED = 3
const PAYLOAD_FULLY_PRESENT = 6
const PAYLOAD_PARTIALLY_PRESENT = 7
const SB_PRESENT = 6

/**
 * VHDX dynamic, fixed and differencing (AVHDX) disks. The BAT interleaves one sector-bitmap entry after every
 * `chunkRatio` payload entries; bitmaps matter only in differencing files (which sectors are here vs. in the parent).
 */
export class VhdxImage implements ImageSource {
  readonly format: 'vhdx' | 'vhdx-differencing'
  readonly size: number
  private readonly chunkRatio: number
  private readonly bitmaps = new LruCache<number, Buffer>(8)

  private constructor(
    readonly container: BlockSource,
    private readonly meta: VhdxMetadata,
    private readonly bat: BigUint64Array,
    readonly parent: ImageSource | undefined,
  ) {
    this.format = meta.hasParent ? 'vhdx-differencing' : 'vhdx'
    this.size = meta.virtualSize
    this.chunkRatio = (2 ** 23 * meta.logicalSectorSize) / meta.blockSize
  }

  static async open(file: BlockSource, options: OpenImageOptions, openImage: ImageOpener): Promise<VhdxImage> {
    const signal = options.signal
    const header = await readVhdxHeader(file, signal)
    // A file that was not closed cleanly has log entries that must be applied first; they are applied in memory.
    const container = header.logGuidZero ? file : new OverlaySource(file, await replayVhdxLog(file, header, signal))
    const regions = await readVhdxRegions(container, signal)
    const meta = await readVhdxMetadata(container, regions.metadata, signal)
    const chunkRatio = (2 ** 23 * meta.logicalSectorSize) / meta.blockSize
    const payloadBlocks = Math.ceil(meta.virtualSize / meta.blockSize)
    const entries = meta.hasParent ? Math.ceil(payloadBlocks / chunkRatio) * (chunkRatio + 1) : payloadBlocks + Math.floor(Math.max(0, payloadBlocks - 1) / chunkRatio)
    if (entries * 8 > Math.max(regions.bat.length, 8)) {
      // The BAT region must hold an entry for every block; a short one means the size field lies.
      throw new DiskFormatError('corrupt', `${container.label}: the VHDX block table (${regions.bat.length} bytes) is too small for a ${meta.virtualSize}-byte disk`)
    }
    if (entries * 8 > container.size) throw new DiskFormatError('truncated', `${container.label}: the VHDX block table is larger than the file`)
    const raw = await readStructure(container, regions.bat.offset, entries * 8, 'VHDX block table', signal)
    const bat = new BigUint64Array(entries)
    for (let i = 0; i < entries; i++) bat[i] = raw.readBigUInt64LE(i * 8)
    let parent: ImageSource | undefined
    if (meta.hasParent) {
      const loc = meta.parentLocator
      const candidates = ['relative_path', 'absolute_win32_path', 'volume_path'].flatMap((k) => {
        const v = loc.get(k)
        return v ? [v] : []
      })
      parent = await openParent({ child: container.label, candidates }, options, openImage)
    }
    return new VhdxImage(container, meta, bat, parent)
  }

  get label(): string {
    return this.container.label
  }

  private entry(block: number): { state: number; offset: number } {
    const v = this.bat[block + Math.floor(block / this.chunkRatio)] ?? 0n
    return { state: Number(v & 7n), offset: Number(v >> 20n) * MiB }
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    const out = Buffer.allocUnsafe(length)
    await this.readInto(out, offset, signal)
    return out
  }

  /** Fills all of `out` from `offset`; fully present blocks are read straight into it. */
  async readInto(out: Buffer, offset: number, signal?: AbortSignal): Promise<void> {
    const length = out.length
    assertReadInBounds(this, offset, length)
    const bs = this.meta.blockSize
    let pos = 0
    while (pos < length) {
      signal?.throwIfAborted()
      const at = offset + pos
      const block = Math.floor(at / bs)
      const inBlock = at - block * bs
      const n = Math.min(length - pos, bs - inBlock)
      const { state, offset: fileOffset } = this.entry(block)
      switch (state) {
        case PAYLOAD_FULLY_PRESENT:
          await readStructureInto(this.container, fileOffset + inBlock, out.subarray(pos, pos + n), 'VHDX data block', signal)
          break
        case PAYLOAD_PARTIALLY_PRESENT:
          if (!this.parent) throw new DiskFormatError('corrupt', `${this.label}: a partially present block in a VHDX without a parent`)
          await this.readPartial(block, fileOffset, inBlock, n, out, pos, signal)
          break
        case PAYLOAD_ZERO:
          out.fill(0, pos, pos + n)
          break
        case PAYLOAD_NOT_PRESENT:
        case PAYLOAD_UNDEFINED:
        case PAYLOAD_UNMAPPED:
          ;(await readFromParent(this.parent, at, n, signal)).copy(out, pos)
          break
        default:
          throw new DiskFormatError('corrupt', `${this.label}: VHDX block ${block} has an invalid state ${state}`, { block, state })
      }
      pos += n
    }
  }

  private async readPartial(block: number, fileOffset: number, inBlock: number, n: number, out: Buffer, pos: number, signal?: AbortSignal): Promise<void> {
    const chunk = Math.floor(block / this.chunkRatio)
    const sbEntry = this.bat[chunk * (this.chunkRatio + 1) + this.chunkRatio] ?? 0n
    if (Number(sbEntry & 7n) !== SB_PRESENT) throw new DiskFormatError('corrupt', `${this.label}: VHDX block ${block} is partially present but has no sector bitmap`)
    let bitmap = this.bitmaps.get(chunk)
    if (!bitmap) {
      bitmap = await readStructure(this.container, Number(sbEntry >> 20n) * MiB, MiB, 'VHDX sector bitmap', signal)
      this.bitmaps.set(chunk, bitmap)
    }
    const ss = this.meta.logicalSectorSize
    const blockBase = block * this.meta.blockSize
    const sectorBase = (blockBase - chunk * this.chunkRatio * this.meta.blockSize) / ss
    const bit = (s: number): boolean => (((bitmap[s >> 3] ?? 0) >> (s & 7)) & 1) === 1
    await readSectorRuns(
      { inBlock, n, sectorSize: ss, out, pos },
      (sector) => bit(sectorBase + sector),
      (offset, length) => readStructure(this.container, fileOffset + offset, length, 'VHDX data block', signal),
      (offset, length) => readFromParent(this.parent, blockBase + offset, length, signal),
    )
  }

  extents(signal?: AbortSignal): AsyncIterable<Extent> {
    return fromSync(this.extentList(), signal)
  }

  private *extentList(): Iterable<Extent> {
    const bs = this.meta.blockSize
    for (let b = 0; b * bs < this.size; b++) {
      const { state } = this.entry(b)
      const length = Math.min(bs, this.size - b * bs)
      const kind = state === PAYLOAD_ZERO || (!this.parent && state !== PAYLOAD_FULLY_PRESENT) ? 'zero' : 'data'
      yield { offset: b * bs, length, kind }
    }
  }

  async close(): Promise<void> {
    try {
      await this.parent?.close()
    } finally {
      await this.container.close()
    }
  }
}
