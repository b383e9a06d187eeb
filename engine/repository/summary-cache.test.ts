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

      const byTime = [...uncached].sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.finishedAt.localeCompare(b.finishedAt))
      const remaining = uncached.filter((p) => p.id !== byTime[0]!.id)
      const second = counting(dir)
      {
        await using repo = await openRepository({ backend: second.backend, passphrase: 'pw', workers: 1, summaryCache: cache })
        expect(await repo.listPoints()).toEqual(uncached)
        expect(second.manifestsRead()).toBe(0)
        // Pruned: gone from the list at once, whatever the cache holds. (Ids made in one second do not sort by time.)
        const pruned = await repo.prune({ policy: { keepLast: 2 } })
        expect(pruned.removed.map((d) => d.id)).toEqual([byTime[0]!.id])
        expect((await repo.listPoints()).map((p) => p.id)).toEqual(remaining.map((p) => p.id))
        // One: the pruned point's manifest, moved to trash/ as it is; planning the prune read none.
        expect(second.manifestsRead()).toBe(1)
      }

      // The file: one line a point. A torn last line and an edited one are not believed: those points are read again.
      const file = path.join(cacheDir, (await readdir(cacheDir))[0] ?? '')
      const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '')
      const live = lines.filter((l) => remaining.some((p) => l.includes(p.id)))
      expect(live).toHaveLength(2)
      await writeFile(file, `${live[0]!.replace('"mode":"cold"', '"mode":"sideways"')}\n${live[1]!.slice(0, 40)}`)
      const third = counting(dir)
      {
        await using repo = await openRepository({ backend: third.backend, passphrase: 'pw', workers: 1, summaryCache: cache })
        expect(await repo.listPoints()).toEqual(remaining)
        expect(third.manifestsRead()).toBe(2)
        // Prune planning reads the summaries too: no manifest now.
        const before = third.manifestsRead()
        expect((await repo.prune({ policy: { keepLast: 1 }, dryRun: true })).removed.map((d) => d.id)).toEqual([byTime[1]!.id])
        expect(third.manifestsRead()).toBe(before)
      }
    })
  })

  it('drops the lines of pruned points once they are more than half of the file', async () => {
    await withTempDir('summary-cache-compact', async (dir) => {
      const cache = folderSummaryCache(dir)
      const summary = (n: number) => ({
        id: `20260101T0000${String(n).padStart(2, '0')}Z-0000000${n % 10}`,
        parentId: null,
        vm: { id: 'vm', name: 'vm' },
        sourceHost: { name: 'h' },
        mode: 'hot' as const,
        consistency: 'crash' as const,
        startedAt: '2026-01-01T00:00:00.000Z',
        finishedAt: '2026-01-01T00:00:01.000Z',
        disks: [{ name: 'disk0', size: 4096 }],
        stats: { bytesRead: 1, bytesNew: 1, bytesStored: 1, chunksNew: 1, chunksReused: 0, chunksZero: 0, chunksFromParent: 0 },
      })
      const all = Array.from({ length: 40 }, (_, i) => summary(i))
      await cache.remember('repo-1', all, new Set(all.map((s) => s.id)))
      expect((await cache.load('repo-1')).size).toBe(40)
      const file = path.join(dir, 'repo-1.jsonl')
      const linesOf = async () => (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '').length
      expect(await linesOf()).toBe(40)
      // 39 of them pruned: the next remember rewrites the file with the two that are still there.
      const newest = summary(40)
      await cache.remember('repo-1', [newest], new Set([all[0]!.id, newest.id]))
      expect(await linesOf()).toBe(2)
      expect([...(await cache.load('repo-1')).keys()].sort()).toEqual([all[0]!.id, newest.id].sort())
      // A repository id that could name another file is not used.
      await cache.remember('../x', [newest], new Set([newest.id]))
      expect((await cache.load('../x')).size).toBe(0)
    })
  })
})
