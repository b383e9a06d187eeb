import { describe, expect, it } from 'vitest'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { CHUNK_SIZE } from '../format.js'
import { withTempDir, writeMixedImage } from '../testing/fixtures.js'
import { backupFile, newLocalRepo } from '../testing/helpers.js'

// A kill -9 while a manifest (points/) or a trash record (trash/) is being written leaves its temp file there; GC used
// to sweep temp files under chunks/ only, so these stayed forever and `check` did not even count them.
describe('temp files of interrupted manifest and trash writes', () => {
  it('are counted by check and removed by gc, and nothing else goes with them', async () => {
    await withTempDir('gc-temp', async (dir) => {
      const image = path.join(dir, 'disk.img')
      await writeMixedImage(image, { blocks: 2, blockSize: CHUNK_SIZE, pattern: ['random', 'text'], seed: 9 })
      await using repo = await newLocalRepo(dir)
      const kept = await backupFile(repo, image)
      const root = path.join(dir, 'repo')
      await writeFile(path.join(root, 'points', `${kept.id}.json.tmp-0123456789ab`), 'half a manifest')
      await mkdir(path.join(root, 'trash'), { recursive: true })
      await writeFile(path.join(root, 'trash', `${kept.id}.json.tmp-ba9876543210`), 'half a trash record')
      expect((await repo.check()).tempFiles).toBe(2)
      expect((await repo.gc({ dryRun: true })).tempFilesDeleted).toBe(2)
      expect((await repo.gc()).tempFilesDeleted).toBe(2)
      expect(await readdir(path.join(root, 'points'))).toEqual([`${kept.id}.json`])
      expect(await readdir(path.join(root, 'trash'))).toEqual([])
      expect(await repo.check()).toMatchObject({ ok: true, tempFiles: 0, points: 1 })
      expect((await repo.verify()).ok).toBe(true)
    })
  })
})
