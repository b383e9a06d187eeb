import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { CHUNK_SIZE } from '../format.js'
import { withTempDir } from '../testing/fixtures.js'
import { backupFile, newLocalRepo, reopenLocalRepo, VM } from '../testing/helpers.js'
import { editManifest } from '../testing/tamper.js'
import { alignToChunks, type ByteRange } from './chunk-plan.js'

/** A stream that hands out `data` in uneven pieces, as a network transfer does. */
async function* pieces(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < data.length; at += size) {
    await Promise.resolve()
    yield data.subarray(at, at + size)
  }
}

function dataOf(disk: Buffer, ranges: readonly ByteRange[]): Buffer {
  return Buffer.concat(ranges.map((r) => disk.subarray(r.offset, r.offset + r.length)))
}

describe('a disk stream that carries only its data ranges', () => {
  const size = 6 * CHUNK_SIZE + 777
  const disk = Buffer.alloc(size)
  const written: ByteRange[] = [
    { offset: 100, length: 5000 },
    { offset: CHUNK_SIZE - 10, length: 20 },
    { offset: 3 * CHUNK_SIZE, length: CHUNK_SIZE },
    { offset: 6 * CHUNK_SIZE, length: 777 },
  ]
  for (const r of written) randomBytes(r.length).copy(disk, r.offset)

  it.each([
    ['unaligned ranges (chunks of data and holes mixed)', written],
    ['ranges widened to whole chunks', alignToChunks(written, size, 1024)],
  ])('stores the disk exactly from %s and counts the gaps as holes, never read', async (_what, ranges) => {
    await withTempDir('sparse-stream', async (dir) => {
      await using repo = await newLocalRepo(dir)
      const p = await repo.ingest({
        vm: VM,
        sourceHost: { name: 'h' },
        mode: 'cold',
        consistency: 'offline',
        disks: [{ name: 'vda', stream: pieces(dataOf(disk, ranges), 65_537), size, dataRanges: ranges }],
      })
      const dataBytes = ranges.reduce((sum, r) => sum + r.length, 0)
      expect(p.stats.bytesRead).toBe(dataBytes)
      expect(p.stats.bytesHoles).toBe(size - dataBytes)
      const back = await repo.openDisk(p.id, 'vda')
      expect((await back.read(0, size)).equals(disk)).toBe(true)
      await back.close()
    })
  })

  it('refuses data ranges out of order, overlapping or outside the disk before reading anything', async () => {
    await withTempDir('sparse-bad', async (dir) => {
      await using repo = await newLocalRepo(dir)
      for (const dataRanges of [
        [{ offset: CHUNK_SIZE, length: 10 }, { offset: 0, length: 10 }],
        [{ offset: 0, length: 100 }, { offset: 50, length: 100 }],
        [{ offset: size - 5, length: 10 }],
        [{ offset: 0, length: 0 }],
      ]) {
        const ingest = repo.ingest({ vm: VM, sourceHost: { name: 'h' }, mode: 'cold', consistency: 'offline', disks: [{ name: 'vda', stream: pieces(Buffer.alloc(20), 7), size, dataRanges }] })
        await expect(ingest).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
      }
    })
  })

  it('fails when the stream is shorter than its data ranges', async () => {
    await withTempDir('sparse-short', async (dir) => {
      await using repo = await newLocalRepo(dir)
      const ingest = repo.ingest({ vm: VM, sourceHost: { name: 'h' }, mode: 'cold', consistency: 'offline', disks: [{ name: 'vda', stream: pieces(randomBytes(4999), 1000), size, dataRanges: [{ offset: 0, length: 5000 }] }] })
      await expect(ingest).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('fewer') as unknown })
    })
  })
})

describe('what a backup says it read, skipped and found', () => {
  it('counts zeros found by reading apart from holes it never read', async () => {
    await withTempDir('zero-counts', async (dir) => {
      const img = path.join(dir, 'disk.img')
      // Chunk 0 data, chunk 1 zeros written as data, chunk 2 zeros the source calls a hole, chunk 3 data.
      const data = Buffer.alloc(4 * CHUNK_SIZE)
      randomBytes(CHUNK_SIZE).copy(data, 0)
      randomBytes(CHUNK_SIZE).copy(data, 3 * CHUNK_SIZE)
      await writeFile(img, data)
      await using repo = await newLocalRepo(dir)
      const p = await backupFile(repo, img, { zeroExtents: [{ offset: 2 * CHUNK_SIZE, length: CHUNK_SIZE }] })
      expect(p.stats).toMatchObject({ bytesRead: 3 * CHUNK_SIZE, bytesHoles: CHUNK_SIZE, bytesZero: CHUNK_SIZE, chunksZero: 2, chunksNew: 2 })
    })
  })

  it('still opens points written before holes and zeros were counted, and refuses impossible counts', async () => {
    await withTempDir('old-stats', async (dir) => {
      const img = path.join(dir, 'disk.img')
      await writeFile(img, randomBytes(CHUNK_SIZE))
      const repoDir = path.join(dir, 'repo')
      const id = await (async () => {
        await using repo = await newLocalRepo(dir)
        return (await backupFile(repo, img)).id
      })()
      await editManifest(repoDir, id, (m) => {
        const stats = m.stats as Record<string, unknown>
        delete stats.bytesHoles
        delete stats.bytesZero
      })
      {
        await using repo = await reopenLocalRepo(dir)
        const old = await repo.getPoint(id)
        expect(old.stats.bytesRead).toBe(CHUNK_SIZE)
        expect(old.stats.bytesHoles).toBeUndefined()
      }
      await editManifest(repoDir, id, (m) => {
        ;(m.stats as Record<string, unknown>).bytesHoles = -1
      })
      await using repo = await reopenLocalRepo(dir)
      await expect(repo.getPoint(id)).rejects.toMatchObject({ code: 'CORRUPT_MANIFEST' })
    })
  })
})

describe('alignToChunks', () => {
  it('widens ranges to whole chunks, clipped to the disk, merging those that touch', () => {
    const size = 10 * CHUNK_SIZE + 5
    expect(alignToChunks([{ offset: 1, length: 1 }, { offset: CHUNK_SIZE + 1, length: 1 }, { offset: 5 * CHUNK_SIZE, length: 1 }, { offset: 10 * CHUNK_SIZE + 1, length: 4 }], size, 100)).toEqual([
      { offset: 0, length: 2 * CHUNK_SIZE },
      { offset: 5 * CHUNK_SIZE, length: CHUNK_SIZE },
      { offset: 10 * CHUNK_SIZE, length: 5 },
    ])
  })

  it('closes the smallest gaps until no more than maxRuns runs are left', () => {
    const c = CHUNK_SIZE
    // Runs at chunks 0, 2, 10, 11+1=12, 30; gaps of 1, 7, 1, 17 chunks.
    const ranges = [0, 2, 10, 12, 30].map((k) => ({ offset: k * c, length: 1 }))
    expect(alignToChunks(ranges, 40 * c, 3)).toEqual([
      { offset: 0, length: 3 * c },
      { offset: 10 * c, length: 3 * c },
      { offset: 30 * c, length: c },
    ])
    expect(alignToChunks(ranges, 40 * c, 1)).toEqual([{ offset: 0, length: 31 * c }])
    expect(alignToChunks([], 40 * c, 1)).toEqual([])
  })
})
