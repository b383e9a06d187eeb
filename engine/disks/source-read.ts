import type { BlockSource } from './block-source'
import { DiskFormatError } from './errors'

/**
 * Reads a structure at an offset the image itself declared. The offset is hostile: if the range leaves the
 * source this is damage to the image ('truncated'), not a programming error, so it never surfaces as a RangeError.
 */
export async function readStructure(source: BlockSource, offset: number, length: number, what: string, signal?: AbortSignal): Promise<Buffer> {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > source.size) {
    throw new DiskFormatError('truncated', `${source.label}: ${what} at byte ${offset} (${length} bytes) lies beyond the end of the image (${source.size} bytes)`, {
      offset,
      length,
    })
  }
  return source.read(offset, length, signal)
}
