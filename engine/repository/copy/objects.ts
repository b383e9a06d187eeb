import { MAX_CHUNK_OBJECT_BYTES, chunkKey } from '../format.js'
import { ObjectTooLargeError, type RepositoryBackend } from '../backend.js'
import { RepositoryError } from '../errors.js'
import type { RepoContext } from '../context.js'

/** A chunk's stored object as it is, or undefined when missing; an oversized one comes back empty (it cannot open). */
export async function chunkObject(backend: RepositoryBackend, id: string, signal?: AbortSignal): Promise<Buffer | undefined> {
  try {
    return await backend.get(chunkKey(id), { maxBytes: MAX_CHUNK_OBJECT_BYTES, signal })
  } catch (error) {
    if (error instanceof ObjectTooLargeError) return Buffer.alloc(0)
    throw error
  }
}

/**
 * Whether a stored object is the chunk `id` (authenticated, right length, content hashing to the id). The codec may
 * move the buffer to a worker thread: pass a copy of anything still needed afterwards.
 */
export async function opensAs(ctx: RepoContext, object: Buffer, id: string, length: number): Promise<boolean> {
  try {
    await ctx.codec.open(object, id, length)
    return true
  } catch (error) {
    if (error instanceof RepositoryError && error.code === 'CORRUPT_CHUNK') return false
    throw error
  }
}
