import type { BlockSource } from './block-source'
import { DiskFormatError } from './errors'
import type { ImageSource, OpenImageOptions, ParentLocator } from './image-types'
import { MAX_CHAIN_DEPTH } from './image-types'

/** Reads from a backing image; a child may be larger than its parent, and the parent's missing tail reads as zeros. */
export async function readFromParent(parent: BlockSource | undefined, offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
  if (!parent || offset >= parent.size) return Buffer.alloc(length)
  const avail = Math.min(length, parent.size - offset)
  const head = await parent.read(offset, avail, signal)
  return avail === length ? head : Buffer.concat([head, Buffer.alloc(length - avail)])
}

/**
 * Part of one block of a differencing image, run by run of sectors: `n` bytes from `inBlock` into out at `pos`.
 * Sectors the image holds (`present`, by sector number inside the block) come from `here`, the others from the
 * parent (`fromParent`); both take an offset inside the block and a length.
 */
export async function readSectorRuns(
  o: { readonly inBlock: number; readonly n: number; readonly sectorSize: number; readonly out: Buffer; readonly pos: number },
  present: (sector: number) => boolean,
  here: (offset: number, length: number) => Promise<Buffer>,
  fromParent: (offset: number, length: number) => Promise<Buffer>,
): Promise<void> {
  const { inBlock, n, sectorSize: ss } = o
  let done = 0
  while (done < n) {
    const held = present(Math.floor((inBlock + done) / ss))
    let end = done + (ss - ((inBlock + done) % ss))
    while (end < n && present(Math.floor((inBlock + end) / ss)) === held) end += ss
    end = Math.min(end, n)
    const data = held ? await here(inBlock + done, end - done) : await fromParent(inBlock + done, end - done)
    data.copy(o.out, o.pos + done)
    done = end
  }
}

export type ImageOpener = (container: BlockSource, options: OpenImageOptions) => Promise<ImageSource>

/** Opens a parent through the caller's resolver and decodes it, bounding the chain depth to stop cycles. */
export async function openParent(locator: ParentLocator, options: OpenImageOptions, openImage: ImageOpener): Promise<ImageSource> {
  const depth = (options.depth ?? 0) + 1
  if (depth > MAX_CHAIN_DEPTH) {
    throw new DiskFormatError('loop', `${locator.child}: the chain of parent images is deeper than ${MAX_CHAIN_DEPTH} (a cycle?)`, { depth })
  }
  if (!options.resolveParent) {
    throw new DiskFormatError('missing-parent', `${locator.child} is a differencing image; its parent (${locator.candidates.join(' or ') || 'unnamed'}) must be supplied`, {
      parent: locator.candidates[0] ?? '',
    })
  }
  let container: BlockSource
  try {
    container = await options.resolveParent(locator, options.signal)
  } catch (e) {
    if (e instanceof DiskFormatError || (e instanceof Error && e.name === 'AbortError')) throw e
    throw new DiskFormatError('missing-parent', `${locator.child}: its parent ${locator.candidates.join(' or ')} could not be opened: ${e instanceof Error ? e.message : String(e)}`, {
      parent: locator.candidates[0] ?? '',
    }, { cause: e })
  }
  try {
    return await openImage(container, { ...options, depth })
  } catch (e) {
    await container.close()
    throw e
  }
}
