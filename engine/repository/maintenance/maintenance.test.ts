import { describe, expect, it } from 'vitest'
import { readdir, utimes } from 'node:fs/promises'
import path from 'node:path'
import { CHUNK_SIZE } from '../format.js'
import { withTempDir, writeMixedImage } from '../testing/fixtures.js'
import { VM, backupFile, expectSameAsFile, newLocalRepo } from '../testing/helpers.js'
import { openFileSource } from '../testing/file-source.js'
import type { BlockSource } from '../../disks/block-source.js'

describe('prune and garbage collection', () => {
  it('prune dry-run lists what would go and why the rest stays; prune + gc then free the space', async () => {
    await withTempDir('prune', async (dir) => {
      let clock = Date.parse('2026-03-01T08:00:00Z')
      await using repo = await newLocalRepo(dir, { clock: () => clock })
      const ids: string[] = []
      for (let day = 0; day < 4; day++) {
        const img = path.join(dir, `d${day}.img`)
        await writeMixedImage(img, { blocks: 2, blockSize: CHUNK_SIZE, pattern: ['random'] })
        ids.push((await backupFile(repo, img)).id)
        clock += 24 * 3600_000
      }
      const dry = await repo.prune({ policy: { keepLast: 1, keepDaily: 2 }, dryRun: true })
      expect(dry.removed.map((d) => d.id)).toEqual(ids.slice(0, 2))
      expect(dry.kept.map((d) => [d.id, d.reasons])).toEqual([
        [ids[2], ['daily 2026-03-03']],
        [ids[3], ['last 1', 'daily 2026-03-04']],
      ])
      expect(await repo.listPoints()).toHaveLength(4)
      const real = await repo.prune({ policy: { keepLast: 1, keepDaily: 2 } })
      expect(real.removed).toHaveLength(2)
      expect((await repo.listPoints()).map((p) => p.id)).toEqual(ids.slice(2))
      const gc = await repo.gc()
      expect(gc).toMatchObject({ chunksDeleted: 4, chunksInUse: 4, trashDropped: 2, backupsRunning: 0 })
      expect((await repo.verify()).ok).toBe(true)
      expect(await readdir(path.join(dir, 'repo', 'trash'))).toEqual([])
    })
  })

  it('gc while a backup runs keeps what the backup wrote and what it reuses, even from a point pruned meanwhile', async () => {
    await withTempDir('gc-live', async (dir) => {
      await using repo = await newLocalRepo(dir, { locking: { clockSkewMs: 0 } })
      const oldImg = path.join(dir, 'old.img')
      await writeMixedImage(oldImg, { blocks: 4, blockSize: CHUNK_SIZE, pattern: ['random', 'text'] })
      const old = await backupFile(repo, oldImg)
      const tinyImg = path.join(dir, 'tiny.img')
      await writeMixedImage(tinyImg, { blocks: 1, blockSize: 4096, pattern: ['text'] })
      await backupFile(repo, tinyImg)
      // An orphan from a backup that died long ago: must go.
      const orphanImg = path.join(dir, 'orphan.img')
      await writeMixedImage(orphanImg, { blocks: 1, blockSize: CHUNK_SIZE, pattern: ['random'] })
      const controller = new AbortController()
      await expect(backupFile(repo, orphanImg, { signal: controller.signal, progress: (u) => u.bytesDone > 0 && controller.abort() })).rejects.toThrow()
      const chunkDir = path.join(dir, 'repo', 'chunks')
      for (const sub of await readdir(chunkDir)) for (const f of await readdir(path.join(chunkDir, sub))) await utimes(path.join(chunkDir, sub, f), new Date(0), new Date(0))

      // The running backup: the old disk (all reusable) plus new data, paused half-way through.
      const newImg = path.join(dir, 'new.img')
      await writeMixedImage(newImg, { blocks: 4, blockSize: CHUNK_SIZE, pattern: ['text'], seed: 9 })
      const base = await openFileSource(newImg)
      let release: () => void = () => undefined
      const gate = new Promise<void>((resolve) => (release = resolve))
      let reached: () => void = () => undefined
      const halfway = new Promise<void>((resolve) => (reached = resolve))
      const slow: BlockSource = {
        size: base.size,
        label: base.label,
        close: () => base.close(),
        read: async (offset, length, signal) => {
          if (offset === 2 * CHUNK_SIZE) {
            reached()
            await gate
          }
          return base.read(offset, length, signal)
        },
      }
      const countChunks = async (): Promise<number> => {
        let n = 0
        for (const sub of await readdir(chunkDir)) n += (await readdir(path.join(chunkDir, sub))).filter((f) => !f.includes('.tmp')).length
        return n
      }
      const chunksBefore = await countChunks()
      const oldSource = await openFileSource(oldImg)
      const running = repo.ingest({ vm: { ...VM, id: 'vm-2' }, sourceHost: { name: 'h' }, mode: 'hot', consistency: 'crash', disks: [{ name: 'a', source: oldSource }, { name: 'b', source: slow }] })
      await halfway
      // The two chunks of `b` read before the pause are hashed and written by the pipeline behind the reader: wait for
      // them to land (a loaded machine can take a while), not for a fixed time.
      for (let i = 0; i < 600 && (await countChunks()) < chunksBefore + 2; i++) await new Promise((r) => setTimeout(r, 50))
      expect(await countChunks()).toBeGreaterThanOrEqual(chunksBefore + 2)
      // Prune the old point (its chunks are being reused) and collect garbage while the backup waits.
      await repo.prune({ policy: { keepLast: 1 } }) // vm-1 has `old` and the tiny point: `old` goes
      expect((await repo.listPoints()).map((p) => p.id)).not.toContain(old.id)
      const during = await repo.gc()
      expect(during.backupsRunning).toBe(1)
      expect(during.chunksDeleted).toBe(1)
      expect(during.chunksProtected).toBeGreaterThanOrEqual(2)
      release()
      const point = await running
      await base.close()
      await oldSource.close()
      expect(await expectSameAsFile(await repo.openDisk(point.id, 'a'), oldImg)).toBe(true)
      expect(await expectSameAsFile(await repo.openDisk(point.id, 'b'), newImg)).toBe(true)
      expect((await repo.verify()).ok).toBe(true)
      const after = await repo.gc()
      expect(after).toMatchObject({ backupsRunning: 0, chunksDeleted: 0, trashDropped: 1 })
      expect((await repo.verify()).ok).toBe(true)
    })
  })
})
