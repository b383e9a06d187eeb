import { describe, expect, it } from 'vitest'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import { CHUNK_SIZE } from '../format.js'
import { localBackend } from '../backends/local-backend.js'
import { withTempDir, writeMixedImage } from '../testing/fixtures.js'
import { backupFile, expectSameAsFile, newLocalRepo } from '../testing/helpers.js'
import { chunkFiles, flipBit } from '../testing/tamper.js'

describe('repairing a repository from a copy', { timeout: 120_000 }, () => {
  it('re-fetches damaged and missing chunks and a damaged manifest from the copy, and names what it cannot repair', async () => {
    await withTempDir('repair', async (dir) => {
      const first = path.join(dir, 'first.img')
      const second = path.join(dir, 'second.img')
      await writeMixedImage(first, { blocks: 4, blockSize: CHUNK_SIZE, pattern: ['random'], seed: 5 })
      await writeMixedImage(second, { blocks: 2, blockSize: CHUNK_SIZE, pattern: ['random'], seed: 6 })
      await using repo = await newLocalRepo(dir)
      const a = await backupFile(repo, first)
      const copyDir = path.join(dir, 'copy')
      const copy = localBackend({ path: copyDir })
      await repo.copyPoint({ pointId: a.id, target: copy })
      // The second point never reached the copy: its damage cannot be mended from there.
      const b = await backupFile(repo, second)
      const repoDir = path.join(dir, 'repo')
      const bChunk = (await repo.getPoint(b.id)).disks[0]!.chunks[0]!
      const aChunks = (await repo.getPoint(a.id)).disks[0]!.chunks
      const files = await chunkFiles(repoDir)
      const fileOf = (id: string) => files.find((f) => f.endsWith(id))!
      await flipBit(fileOf(aChunks[0]!), -7)
      await rm(fileOf(aChunks[2]!))
      await flipBit(fileOf(bChunk), -7)

      const report = await repo.repairFrom({ from: copy })
      expect(report.found.ok).toBe(false)
      expect([...report.repairedChunks].sort()).toEqual([aChunks[0], aChunks[2]].sort())
      expect(report.ok).toBe(false)
      expect(report.unrepaired.map((p) => p.pointId)).toEqual([b.id])
      expect(report.unrepaired[0]!.disks[0]!.chunks.map((c) => c.id)).toEqual([bChunk])
      expect(await expectSameAsFile(await repo.openDisk(a.id, 'disk0'), first)).toBe(true)

      await flipBit(path.join(repoDir, 'points', `${a.id}.json`), 40)
      const manifestRepair = await repo.repairFrom({ from: copy })
      expect(manifestRepair.repairedManifests).toEqual([a.id])
      expect(manifestRepair.unrepaired.map((p) => p.pointId)).toEqual([b.id])
      expect(await expectSameAsFile(await repo.openDisk(a.id, 'disk0'), first)).toBe(true)
      await copy.close()
    })
  })

  it('refuses to take chunks from a repository that is not a copy', async () => {
    await withTempDir('repair-other', async (dir) => {
      await using repo = await newLocalRepo(dir)
      await using _other = await newLocalRepo(path.join(dir, 'other'))
      await expect(repo.repairFrom({ from: localBackend({ path: path.join(dir, 'other', 'repo') }) })).rejects.toThrow(/another Lifeboat repository/)
    })
  })
})
