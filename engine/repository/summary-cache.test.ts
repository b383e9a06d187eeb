import { describe, expect, it } from 'vitest'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { CHUNK_SIZE } from './format.js'
import { openRepository } from './repository.js'
import { localBackend } from './backends/local-backend.js'
import { folderSummaryCache } from './summary-cache.js'
import { withTempDir, writeMixedImage } from './testing/fixtures.js'
import { backupFile, newLocalRepo } from './testing/helpers.js'
import type { RepositoryBackend } from './backend.js'

/** The local backend, counting the manifests read. */
function counting(dir: string): { backend: RepositoryBackend; manifestsRead: () => number } {
  const inner = localBackend({ path: path.join(dir, 'repo') })
  let reads = 0
  const backend: RepositoryBackend = Object.assign(Object.create(inner) as RepositoryBackend, {
    get: (key: string, options: Parameters<RepositoryBackend['get']>[1]) => {
      if (key.startsWith('points/')) reads++
      return inner.get(key, options)
    },
  })
  return { backend, manifestsRead: () => reads }
}

describe('the summaries listing remembers', () => {
  it('lists a second time without reading a manifest, the same points in the same order; pruned points vanish; odd entries are read again', async () => {
    await withTempDir('summary-cache', async (dir) => {
      const img = path.join(dir, 'a.img')
      await writeMixedImage(img, { blocks: 2, blockSize: CHUNK_SIZE, pattern: ['text', 'random'], seed: 3 })
      const cacheDir = path.join(dir, 'cache')
      const cache = folderSummaryCache(cacheDir)
      const points = []
      {
        await using repo = await newLocalRepo(dir, { passphrase: 'pw' })
        for (let i = 0; i < 3; i++) points.push(await backupFile(repo, img))
      }
      const first = counting(dir)
      const uncached = await (async () => {
        await using repo = await openRepository({ backend: first.backend, passphrase: 'pw', workers: 1, summaryCache: cache })
        return await repo.listPoints()
      })()
      expect(first.manifestsRead()).toBe(3)
      expect(uncached.map((p) => p.id)).toEqual(points.map((p) => p.id).sort())
      expect(uncached).toEqual(points.map(({ id, parentId, vm, sourceHost, mode, consistency, startedAt, finishedAt, disks, stats }) => ({ id, parentId, vm, sourceHost, mode, consistency, startedAt, finishedAt, disks, stats })).sort((a, b) => a.id.localeCompare(b.id)))

      const second = counting(dir)
      {
        await using repo = await openRepository({ backend: second.backend, passphrase: 'pw', workers: 1, summaryCache: cache })
        expect(await repo.listPoints()).toEqual(uncached)
        expect(second.manifestsRead()).toBe(0)
        // Pruned: gone from the list at once, whatever the cache holds.
        await repo.prune({ policy: { keepLast: 2 } })
        expect((await repo.listPoints()).map((p) => p.id)).toEqual(uncached.slice(1).map((p) => p.id))
      }

      // An entry that is not this point's summary (edited, another point's, cut short) is not believed.
      const folder = path.join(cacheDir, (await readdir(cacheDir))[0] ?? '')
      const [a, b] = uncached.slice(1).map((p) => path.join(folder, `${p.id}.json`))
      await writeFile(a!, await readFile(b!))
      await writeFile(b!, '{"id":')
      const third = counting(dir)
      {
        await using repo = await openRepository({ backend: third.backend, passphrase: 'pw', workers: 1, summaryCache: cache })
        expect(await repo.listPoints()).toEqual(uncached.slice(1))
        expect(third.manifestsRead()).toBe(2)
      }
      expect(JSON.parse(await readFile(b!, 'utf8'))).toEqual(uncached[2])
    })
  })
})
