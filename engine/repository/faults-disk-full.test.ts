import { describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { mkdir, readdir } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { CHUNK_SIZE } from './format.js'
import { MiB, withTempDir, writeMixedImage } from './testing/fixtures.js'
import { backupFile, expectSameAsFile, newLocalRepo, reopenLocalRepo } from './testing/helpers.js'

const run = promisify(execFile)
const isRoot = process.getuid?.() === 0

describe('disk full', () => {
  it.skipIf(!isRoot)('fails a backup with NO_SPACE, keeps earlier points intact, and recovers after gc', async () => {
    await withTempDir('full', async (dir) => {
      const fsImage = path.join(dir, 'fs.img')
      const mnt = path.join(dir, 'mnt')
      await mkdir(mnt)
      await run('mkfs.ext4', ['-q', '-F', '-m', '0', fsImage, '64M'])
      await run('mount', ['-o', 'loop', fsImage, mnt])
      try {
        const small = path.join(dir, 'small.img')
        const big = path.join(dir, 'big.img')
        await writeMixedImage(small, { blocks: 2, blockSize: CHUNK_SIZE, pattern: ['random'], seed: 1 })
        await writeMixedImage(big, { blocks: 25, blockSize: CHUNK_SIZE, pattern: ['random'], seed: 2 })
        const repo = await newLocalRepo(mnt)
        const good = await backupFile(repo, small)
        const failure = backupFile(repo, big)
        await expect(failure).rejects.toMatchObject({ code: 'NO_SPACE' })
        await expect(failure).rejects.toThrow(/is full\. No restore point was written.*Earlier restore points are intact/)
        expect((await repo.listPoints()).map((p) => p.id)).toEqual([good.id])
        expect(await readdir(path.join(mnt, 'repo', 'locks'))).toEqual([])
        expect(await expectSameAsFile(await repo.openDisk(good.id, 'disk0'), small)).toBe(true)
        expect((await repo.verify()).ok).toBe(true)
        const gc = await repo.gc()
        expect(gc.chunksDeleted).toBeGreaterThan(0)
        await repo.close()
        await using again = await reopenLocalRepo(mnt)
        const check = await again.check()
        expect(check).toMatchObject({ ok: true, unreferencedChunks: 0, tempFiles: 0 })
        const retry = path.join(dir, 'retry.img')
        await writeMixedImage(retry, { blocks: 1, blockSize: 8 * MiB, pattern: ['text'] })
        const next = await backupFile(again, retry)
        expect(await expectSameAsFile(await again.openDisk(next.id, 'disk0'), retry)).toBe(true)
      } finally {
        await run('umount', [mnt])
      }
    })
  })
})
