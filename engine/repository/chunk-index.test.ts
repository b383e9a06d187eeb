import { describe, expect, it } from 'vitest'
import path from 'node:path'
import { CHUNK_SIZE } from './format.js'
import { initRepository } from './repository.js'
import { localBackend } from './backends/local-backend.js'
import { withTempDir, writeMixedImage } from './testing/fixtures.js'
import { FAST_SCRYPT, backupFile, expectSameAsFile } from './testing/helpers.js'
import type { RepositoryBackend } from './backend.js'

describe('what a backup may reuse, counted once per open repository', () => {
  it('reads only the manifests of points that appeared since the last backup, and counts again after a prune', async () => {
    await withTempDir('chunk-index', async (dir) => {
      const a = path.join(dir, 'a.img')
      const b = path.join(dir, 'b.img')
      await writeMixedImage(a, { blocks: 2, blockSize: CHUNK_SIZE, pattern: ['random'], seed: 11 })
      await writeMixedImage(b, { blocks: 2, blockSize: CHUNK_SIZE, pattern: ['random'], seed: 12 })
      const inner = localBackend({ path: path.join(dir, 'repo') })
      let manifestReads = 0
      const backend: RepositoryBackend = Object.assign(Object.create(inner) as RepositoryBackend, {
        get: (key: string, options: Parameters<RepositoryBackend['get']>[1]) => {
          if (key.startsWith('points/')) manifestReads++
          return inner.get(key, options)
        },
      })
      await using repo = await initRepository({ backend, scrypt: FAST_SCRYPT, workers: 1 })
      const reads: number[] = []
      const backup = async (file: string) => {
        const before = manifestReads
        const p = await backupFile(repo, file)
        reads.push(manifestReads - before)
        return p
      }
      const first = await backup(a)
      const second = await backup(a)
      await backup(a)
      await backup(a)
      // 0, 1, 1, 1 manifests: each backup looks only at the one point written since (all of them before: 0, 1, 2, 3).
      expect(reads).toEqual([0, 1, 1, 1])
      expect(second.stats.chunksNew).toBe(0)
      expect(first.stats.chunksNew).toBe(2)

      const ofB = await backup(b)
      expect(reads.at(-1)).toBe(1)
      // a's points go (prune keeps b's, the newest). Their chunks are still stored until a GC, but nothing references
      // them now: a backup of a must not trust them (GC may take them at any time). Remembering the references of the
      // pruned points would reuse them.
      const pruned = await repo.prune({ policy: { keepLast: 1 } })
      expect(pruned.removed).toHaveLength(4)
      reads.length = 0
      const again = await backup(a)
      expect(reads).toEqual([1])
      expect(again.stats.chunksNew).toBe(2)
      expect(await expectSameAsFile(await repo.openDisk(again.id, 'disk0'), a)).toBe(true)
      expect(await expectSameAsFile(await repo.openDisk(ofB.id, 'disk0'), b)).toBe(true)
      expect((await repo.verify()).ok).toBe(true)
    })
  })
})
