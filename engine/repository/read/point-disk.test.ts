import { describe, expect, it } from 'vitest'
import { open } from 'node:fs/promises'
import path from 'node:path'
import { localBackend } from '../backends/local-backend.js'
import { chunkKey, CHUNK_SIZE } from '../format.js'
import type { RepositoryBackend } from '../backend.js'
import { FAST_SCRYPT, backupFile, expectSameAsFile, newLocalRepo, wrapBackend } from '../testing/helpers.js'
import { MiB, withTempDir, writeMixedImage } from '../testing/fixtures.js'

/** A local backend that records which chunk objects were asked for, in order. */
function recording(dir: string): { backend: RepositoryBackend; gets: string[] } {
  const inner = localBackend({ path: path.join(dir, 'repo') })
  const gets: string[] = []
  const backend = wrapBackend(inner, {
    get: (key, options) => {
      gets.push(key)
      return inner.get(key, options)
    },
  })
  return { backend, gets }
}

/** Ten stored chunks of random bytes with one zero chunk (index 6) among them. */
async function tenChunkPoint(dir: string) {
  const { backend, gets } = recording(dir)
  const repo = await newLocalRepo(dir, { backend, scrypt: FAST_SCRYPT, workers: 2 })
  const image = path.join(dir, 'disk.img')
  await writeMixedImage(image, { blocks: 10, blockSize: CHUNK_SIZE, pattern: ['random', 'random', 'random', 'random', 'random', 'random', 'zero', 'random', 'random', 'random'] })
  const point = await backupFile(repo, image)
  const disk = await repo.openDisk(point.id, 'disk0', { cacheChunks: 8 })
  const indexOf = new Map(disk.chunkList.map((id, i) => [id === null ? '' : chunkKey(id), i]))
  const chunksAsked = (): number[] => gets.flatMap((key) => (indexOf.has(key) ? [indexOf.get(key) ?? -1] : []))
  return { repo, disk, image, gets, chunksAsked }
}

describe('PointDiskSource read-ahead', () => {
  it('fetches the chunks after a sequential reader before it asks for them, skipping zero chunks', async () => {
    await withTempDir('point-disk', async (dir) => {
      const { repo, disk, gets, chunksAsked } = await tenChunkPoint(dir)
      try {
        gets.length = 0
        await disk.read(0, MiB)
        expect(chunksAsked()).toEqual([0])
        // The second read continues where the first ended: a stream. Chunks 1–4 (two per worker, two workers)
        // start loading while the reader still works inside chunk 0.
        await disk.read(MiB, MiB)
        expect(chunksAsked()).toEqual([0, 1, 2, 3, 4])
        // Reading on into chunk 4 loads the next four stored chunks: chunk 6 is all zeros, never fetched and not
        // counted, so the read-ahead reaches chunk 9.
        await disk.read(2 * MiB, 4 * CHUNK_SIZE - MiB)
        await new Promise((resolve) => setTimeout(resolve, 50))
        expect(chunksAsked()).toEqual([0, 1, 2, 3, 4, 5, 7, 8, 9])
      } finally {
        await disk.close()
        await repo.close()
      }
    })
  })

  it('fetches each chunk once for a reader that streams across chunk boundaries', async () => {
    await withTempDir('point-disk', async (dir) => {
      const { repo, disk, gets, chunksAsked } = await tenChunkPoint(dir)
      try {
        gets.length = 0
        // 4 MiB reads starting 1 MiB into the disk, as a file's extents rarely line up with chunks. Each chunk is
        // fetched once, and a read's own chunk before the chunks loading ahead of it.
        for (let at = MiB; at < disk.size; at += 4 * MiB) await disk.read(at, Math.min(4 * MiB, disk.size - at))
        expect(chunksAsked()).toEqual([0, 1, 2, 3, 4, 5, 7, 8, 9])
      } finally {
        await disk.close()
        await repo.close()
      }
    })
  })

  it('follows a reader that skips the zero chunks (an NBD client told where the holes are) as a sequential one', async () => {
    await withTempDir('point-disk', async (dir) => {
      const { repo, disk, gets, chunksAsked } = await tenChunkPoint(dir)
      try {
        gets.length = 0
        await disk.read(5 * CHUNK_SIZE, CHUNK_SIZE)
        // Chunk 6 is all zeros: the next read starts at chunk 7, and the reader still reads in order.
        await disk.read(7 * CHUNK_SIZE, MiB)
        await new Promise((resolve) => setTimeout(resolve, 50))
        expect(chunksAsked()).toEqual([5, 7, 8, 9])
      } finally {
        await disk.close()
        await repo.close()
      }
    })
  })

  it('readShared gives the bytes read gives, as a view of the cached chunk when the read stays inside one', async () => {
    await withTempDir('point-disk', async (dir) => {
      const { repo, disk, image } = await tenChunkPoint(dir)
      try {
        const a = await disk.readShared(3 * CHUNK_SIZE + 100, MiB)
        const b = await disk.readShared(3 * CHUNK_SIZE + 100 + MiB, MiB)
        expect(a.buffer).toBe(b.buffer) // one chunk's memory, not two copies
        expect(a.equals(await disk.read(3 * CHUNK_SIZE + 100, MiB))).toBe(true)
        // Across a chunk boundary and into the zero chunk: a copy, with the same bytes as the image.
        const across = await disk.readShared(5 * CHUNK_SIZE + 1000, 2 * CHUNK_SIZE)
        const fh = await open(image, 'r')
        try {
          const want = Buffer.alloc(across.length)
          await fh.read(want, 0, want.length, 5 * CHUNK_SIZE + 1000)
          expect(across.equals(want)).toBe(true)
        } finally {
          await fh.close()
        }
      } finally {
        await disk.close()
        await repo.close()
      }
    })
  })

  it('does not read ahead for random access, and every byte read is the image’s', async () => {
    await withTempDir('point-disk', async (dir) => {
      const { repo, disk, image, gets, chunksAsked } = await tenChunkPoint(dir)
      try {
        gets.length = 0
        await disk.read(5 * CHUNK_SIZE, 4096)
        await disk.read(2 * CHUNK_SIZE, 4096)
        await disk.read(8 * CHUNK_SIZE + 100, 4096)
        await new Promise((resolve) => setTimeout(resolve, 50))
        expect(chunksAsked()).toEqual([5, 2, 8])
        expect(await expectSameAsFile(disk, image)).toBe(true)
      } finally {
        await disk.close()
        await repo.close()
      }
    })
  })
})
