import type { BlockSource } from './block-source'
import { DiskFormatError } from './errors'

/**
 * Reads a structure at an offset the image itself declared. The offset is hostile: if the range leaves the
 * source this is damage to the image ('truncated'), not a programming error, so it never surfaces as a RangeError.
 */
export async function readStructure(source: BlockSource, offset: number, length: number, what: string, signal?: AbortSignal): Promise<Buffer> {
  assertStructureInBounds(source, offset, length, what)
  return source.read(offset, length, signal)
}

/** readStructure into the caller's memory (all of `target`): straight into it when the source can, else copied. */
export async function readStructureInto(source: BlockSource, offset: number, target: Buffer, what: string, signal?: AbortSignal): Promise<void> {
  assertStructureInBounds(source, offset, target.length, what)
  if (source.readInto !== undefined) await source.readInto(target, offset, signal)
  else (await source.read(offset, target.length, signal)).copy(target)
}

function assertStructureInBounds(source: BlockSource, offset: number, length: number, what: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > source.size) {
    throw new DiskFormatError('truncated', `${source.label}: ${what} at byte ${offset} (${length} bytes) lies beyond the end of the image (${source.size} bytes)`, {
      offset,
      length,
    })
  }
}
