import { ObjectTooLargeError } from '../backend.js'
import { CHUNK_SIZE, MAX_CHUNK_OBJECT_BYTES, chunkKey } from '../format.js'
import { RepositoryError } from '../errors.js'
import type { RepoContext } from '../context.js'

/** Where a chunk sits, for error messages that tell the admin which point and which bytes are affected. */
export interface ChunkPlace {
  readonly pointId: string
  readonly disk: string
  readonly index: number
}

/**
 * Fetches one chunk and proves it: size limit before reading, then (in a worker) authentication, decompression
 * into exactly the expected length and a re-hash against its id. Never returns bytes that are not the chunk's.
 */
export async function readChunk(ctx: RepoContext, id: string, expectedLength: number, place: ChunkPlace | undefined, signal?: AbortSignal): Promise<Buffer> {
  const where =
    place === undefined
      ? `Chunk ${id.slice(0, 16)}…`
      : `Chunk ${place.index} (bytes ${place.index * CHUNK_SIZE}–${place.index * CHUNK_SIZE + expectedLength - 1}) of disk "${place.disk}" in restore point ${place.pointId}`
  const params = { id, pointId: place?.pointId ?? null, disk: place?.disk ?? null, index: place?.index ?? null }
  let object: Buffer | undefined
  // Recycled memory to read into (the codec hands it back after opening): no fresh 4 MiB buffer per chunk.
  const into = ctx.codec.objectBuffer()
  try {
    object = await ctx.backend.get(chunkKey(id), { maxBytes: MAX_CHUNK_OBJECT_BYTES, signal, into })
    if (into !== undefined && object?.buffer !== into.buffer) ctx.codec.recycle(into)
  } catch (error) {
    // `into` is not recycled here: a read the failure cut short might still land in it.
    if (error instanceof ObjectTooLargeError) {
      throw new RepositoryError('CORRUPT_CHUNK', `${where} is damaged: its file is ${error.size} bytes, more than any chunk can be. That part of the disk cannot be read.`, {
        ...params,
        reason: 'object too large',
      })
    }
    throw error
  }
  if (object === undefined) {
    throw new RepositoryError('MISSING_CHUNK', `${where} is missing from the repository. That part of the disk cannot be read; run verify to see every affected point.`, {
      ...params,
      reason: 'missing',
    })
  }
  try {
    return await ctx.codec.open(object, id, expectedLength)
  } catch (error) {
    if (error instanceof RepositoryError && error.code === 'CORRUPT_CHUNK') {
      const reason = String(error.params.reason ?? error.message)
      throw new RepositoryError('CORRUPT_CHUNK', `${where} is damaged (${reason}). That part of the disk cannot be read; run verify to see every affected point.`, {
        ...params,
        reason,
      })
    }
    throw error
  }
}
