import { fromSync } from '../async-iter'
import { assertReadInBounds, type BlockSource, type Extent } from '../block-source'
import { readFromParent, openParent, readSectorRuns, type ImageOpener } from '../chain-read'
import { DiskFormatError } from '../errors'
import type { ImageSource, OpenImageOptions } from '../image-types'
import { LruCache } from '../lru-cache'
import { readStructure, readStructureInto } from '../source-read'
import {
  VHD_TYPE_DIFFERENCING,
  VHD_TYPE_FIXED,
  readVhdDynamicHeader,
  readVhdParentPaths,
  type VhdDynamicHeader,
  type VhdFooter,
} from './vhd-structures'

const UNALLOCATED = 0xffffffff

/** A fixed VHD: the disk, then a 512-byte footer. */
export class VhdFixedImage implements ImageSource {
  readonly format = 'vhd-fixed' as const
  readonly size: number

  constructor(
    readonly container: BlockSource,
    footer: VhdFooter,
  ) {
    this.size = Math.min(footer.currentSize, container.size - 512)
  }
  get label(): string {
    return this.container.label
  }
  read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    assertReadInBounds(this, offset, length)
    return this.container.read(offset, length, signal)
  }
  /** Straight into the caller's memory (the disk is the file minus its footer). */
  async readInto(out: Buffer, offset: number, signal?: AbortSignal): Promise<void> {
    assertReadInBounds(this, offset, out.length)
    await readStructureInto(this.container, offset, out, 'VHD data', signal)
  }
  close(): Promise<void> {
    return this.container.close()
  }
}

/**
 * Dynamic and differencing VHD: a block allocation table (BAT) of sector offsets; each allocated block is a
 * sector bitmap followed by data. In a differencing disk the bitmap says which sectors live here (bit set) and
 * which come from the parent. In a plain dynamic disk the bitmap is ignored, as Hyper-V and QEMU do.
 */
export class VhdDynamicImage implements ImageSource {
  readonly format: 'vhd-dynamic' | 'vhd-differencing'
  readonly size: number
  private readonly bitmapBytes: number
  private readonly bitmaps = new LruCache<number, Buffer>(64)

  private constructor(
    readonly container: BlockSource,
    private readonly header: VhdDynamicHeader,
    private readonly bat: Uint32Array,
    footer: VhdFooter,
    readonly parent: ImageSource | undefined,
  ) {
    this.format = parent ? 'vhd-differencing' : 'vhd-dynamic'
    this.size = footer.currentSize
    this.bitmapBytes = Math.ceil(header.blockSize / 512 / 8 / 512) * 512
  }

  static async open(container: BlockSource, footer: VhdFooter, options: OpenImageOptions, openImage: ImageOpener): Promise<VhdDynamicImage> {
    const signal = options.signal
    const header = await readVhdDynamicHeader(container, footer, signal)
    const needed = Math.ceil(footer.currentSize / header.blockSize)
    if (header.maxTableEntries < needed) {
      throw new DiskFormatError('corrupt', `${container.label}: the VHD block table has ${header.maxTableEntries} entries, too few for a ${footer.currentSize}-byte disk`)
    }
    if (needed * 4 > container.size) throw new DiskFormatError('truncated', `${container.label}: the VHD block table is larger than the file`)
    const raw = await readStructure(container, header.tableOffset, needed * 4, 'VHD block allocation table', signal)
    const bat = new Uint32Array(needed)
    for (let i = 0; i < needed; i++) bat[i] = raw.readUInt32BE(i * 4)
    let parent: ImageSource | undefined
    if (footer.diskType === VHD_TYPE_DIFFERENCING) {
      const candidates = await readVhdParentPaths(container, header, signal)
      parent = await openParent({ child: container.label, candidates }, options, openImage)
      const parentId = vhdUniqueId(parent)
      if (parentId !== undefined && parentId !== header.parentUniqueId) {
        await parent.close()
        throw new DiskFormatError('missing-parent', `${container.label}: the parent found at ${candidates[0] ?? '?'} is a different disk (its id does not match the one this differencing disk was made from)`)
      }
    }
    return new VhdDynamicImage(container, header, bat, footer, parent)
  }

  get label(): string {
    return this.container.label
  }
  async read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    const out = Buffer.allocUnsafe(length)
    await this.readInto(out, offset, signal)
    return out
  }

  /** Fills all of `out` from `offset`; blocks this file holds are read straight into it. */
  async readInto(out: Buffer, offset: number, signal?: AbortSignal): Promise<void> {
    const length = out.length
    assertReadInBounds(this, offset, length)
    const bs = this.header.blockSize
    let pos = 0
    while (pos < length) {
      signal?.throwIfAborted()
      const at = offset + pos
      const block = Math.floor(at / bs)
      const inBlock = at - block * bs
      const n = Math.min(length - pos, bs - inBlock)
      const entry = this.bat[block] ?? UNALLOCATED
      if (entry === UNALLOCATED) {
        ;(await readFromParent(this.parent, at, n, signal)).copy(out, pos)
      } else {
        const dataStart = entry * 512 + this.bitmapBytes
        if (!this.parent) {
          await readStructureInto(this.container, dataStart + inBlock, out.subarray(pos, pos + n), 'VHD data block', signal)
        } else {
          await this.readDifferencing(block, entry, dataStart, inBlock, n, out, pos, signal)
        }
      }
      pos += n
    }
  }

  private async readDifferencing(block: number, entry: number, dataStart: number, inBlock: number, n: number, out: Buffer, pos: number, signal?: AbortSignal): Promise<void> {
    let bitmap = this.bitmaps.get(block)
    if (!bitmap) {
      bitmap = await readStructure(this.container, entry * 512, this.bitmapBytes, 'VHD sector bitmap', signal)
      this.bitmaps.set(block, bitmap)
    }
    const blockBase = block * this.header.blockSize
    await readSectorRuns(
      { inBlock, n, sectorSize: 512, out, pos },
      (sector) => isSet(bitmap, sector),
      (offset, length) => readStructure(this.container, dataStart + offset, length, 'VHD data block', signal),
      (offset, length) => readFromParent(this.parent, blockBase + offset, length, signal),
    )
  }

  extents(signal?: AbortSignal): AsyncIterable<Extent> {
    return fromSync(this.extentList(), signal)
  }

  private *extentList(): Iterable<Extent> {
    const bs = this.header.blockSize
    for (let b = 0; b * bs < this.size; b++) {
      const length = Math.min(bs, this.size - b * bs)
      const kind = (this.bat[b] ?? UNALLOCATED) === UNALLOCATED && !this.parent ? 'zero' : 'data'
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

function isSet(bitmap: Buffer, sector: number): boolean {
  return (((bitmap[sector >> 3] ?? 0) >> (7 - (sector & 7))) & 1) === 1
}

/** VHD unique ids are checked across a chain; other formats in a chain (rare) are not compared. */
const ids = new WeakMap<ImageSource, string>()
export function rememberVhdId(image: ImageSource, footer: VhdFooter): void {
  ids.set(image, footer.uniqueId)
}
function vhdUniqueId(image: ImageSource): string | undefined {
  return ids.get(image)
}

export function isFixed(footer: VhdFooter): boolean {
  return footer.diskType === VHD_TYPE_FIXED
}
