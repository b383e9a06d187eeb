import { describe, expect, it } from 'vitest'
import { readdir } from 'node:fs/promises'
import path from 'node:path'
import { CHUNK_SIZE } from '../format.js'
import { localBackend } from '../backends/local-backend.js'
import { openRepository } from '../repository.js'
import { RepositoryError } from '../errors.js'
import { withTempDir, writeMixedImage } from '../testing/fixtures.js'
import { backupFile, expectSameAsFile, newLocalRepo } from '../testing/helpers.js'
import { chunkFiles, flipBit } from '../testing/tamper.js'

const passphrase = 'copy test passphrase'

async function openTarget(dir: string) {
  return openRepository({ backend: localBackend({ path: path.join(dir, 'copy') }), passphrase, workers: 1 })
}

describe('copying a restore point to a second repository', { timeout: 120_000 }, () => {
  it('makes an empty place a copy that restores with the same passphrase, and sends only what the copy lacks', async () => {
    await withTempDir('copy', async (dir) => {
      const first = path.join(dir, 'first.img')
      const second = path.join(dir, 'second.img')
      await writeMixedImage(first, { blocks: 6, blockSize: CHUNK_SIZE, pattern: ['text', 'random', 'zero'], seed: 1, tail: 1000 })
      await writeMixedImage(second, { blocks: 8, blockSize: CHUNK_SIZE, pattern: ['text', 'random', 'zero', 'random'], seed: 1, tail: 1000 })
      await using repo = await newLocalRepo(dir, { passphrase })
      const a = await backupFile(repo, first)
      const b = await backupFile(repo, second)
      const target = localBackend({ path: path.join(dir, 'copy') })
      const r1 = await repo.copyPoint({ pointId: a.id, target })
      expect(r1).toMatchObject({ targetCreated: true, alreadyThere: false, chunksShared: 0, chunksResumed: 0 })
      expect(r1.chunksSent).toBe(r1.chunks)
      expect(r1.chunksVerified).toBe(r1.chunks)
      const r2 = await repo.copyPoint({ pointId: b.id, target })
      // The second image shares its text chunks and first random chunk with the first; only the rest travels.
      expect(r2.targetCreated).toBe(false)
      expect(r2.chunksShared).toBeGreaterThan(0)
      expect(r2.chunksSent).toBe(r2.chunks - r2.chunksShared)
      expect((await repo.copyPoint({ pointId: b.id, target })).alreadyThere).toBe(true)
      await target.close()
      await using copy = await openTarget(dir)
      expect(copy.info().id).toBe(repo.info().id)
      // Both points may share a second of creation time; their ids then sort by their random part.
      expect((await copy.listPoints()).map((p) => p.id).sort()).toEqual([a.id, b.id].sort())
      expect(await expectSameAsFile(await copy.openDisk(b.id, 'disk0'), second)).toBe(true)
      expect((await copy.verify()).ok).toBe(true)
      expect((await chunkFiles(path.join(dir, 'copy'))).length).toBe((await chunkFiles(path.join(dir, 'repo'))).length)
    })
  })

  it('refuses a place that holds another repository, and a damaged source chunk, leaving no point behind', async () => {
    await withTempDir('copy-refuse', async (dir) => {
      const image = path.join(dir, 'a.img')
      await writeMixedImage(image, { blocks: 3, blockSize: CHUNK_SIZE, pattern: ['random'], seed: 2 })
      await using repo = await newLocalRepo(dir)
      const point = await backupFile(repo, image)
      await using other = await newLocalRepo(path.join(dir, 'other'))
      const otherBackend = localBackend({ path: path.join(dir, 'other', 'repo') })
      await expect(repo.copyPoint({ pointId: point.id, target: otherBackend })).rejects.toThrow(/another Lifeboat repository/)
      expect(await other.listPoints()).toEqual([])

      const [victim] = await chunkFiles(path.join(dir, 'repo'))
      await flipBit(victim!, -5)
      const target = localBackend({ path: path.join(dir, 'copy') })
      const error: unknown = await repo.copyPoint({ pointId: point.id, target }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(RepositoryError)
      expect((error as RepositoryError).code).toBe('CORRUPT_CHUNK')
      expect((error as RepositoryError).message).toMatch(/damaged in .* cannot be copied/)
      expect(await readdir(path.join(dir, 'copy', 'points')).catch(() => [])).toEqual([])
      await target.close()
    })
  })

  it('resumes a cancelled copy without sending again what is already there, and replaces a damaged leftover', async () => {
    await withTempDir('copy-cancel', async (dir) => {
      const image = path.join(dir, 'a.img')
      await writeMixedImage(image, { blocks: 10, blockSize: CHUNK_SIZE, pattern: ['random', 'text'], seed: 3 })
      await using repo = await newLocalRepo(dir, { passphrase })
      const point = await backupFile(repo, image)
      const target = localBackend({ path: path.join(dir, 'copy') })
      const abort = new AbortController()
      let seen = 0
      const error: unknown = await repo
        .copyPoint({
          pointId: point.id,
          target,
          signal: abort.signal,
          progress: () => {
            if (++seen === 4) abort.abort()
          },
        })
        .catch((e: unknown) => e)
      expect((error as RepositoryError).code).toBe('CANCELLED')
      expect((error as RepositoryError).message).toMatch(/resumes where this stopped/)
      expect(await readdir(path.join(dir, 'copy', 'points')).catch(() => [])).toEqual([])
      const left = await chunkFiles(path.join(dir, 'copy'))
      expect(left.length).toBeGreaterThanOrEqual(4)
      expect(await readdir(path.join(dir, 'copy', 'locks'))).toEqual([])
      await flipBit(left[0]!, -3)

      const report = await repo.copyPoint({ pointId: point.id, target })
      expect(report.chunksResumed).toBe(left.length - 1)
      expect(report.chunksSent).toBe(report.chunks - left.length + 1)
      await target.close()
      await using copy = await openTarget(dir)
      expect((await copy.verify()).ok).toBe(true)
      expect(await expectSameAsFile(await copy.openDisk(point.id, 'disk0'), image)).toBe(true)
    })
  })
})
