import { describe, expect, it } from 'vitest'
import { readFile, readdir, writeFile } from 'node:fs/promises'
import { createHash, randomBytes } from 'node:crypto'
import path from 'node:path'
import { localBackend } from './backends/local-backend.js'
import { initRepository, openRepository } from './repository.js'
import { CHUNK_SIZE } from './format.js'
import { MiB, patchFile, withTempDir, writeMixedImage } from './testing/fixtures.js'
import { FAST_SCRYPT, VM, backupFile, expectSameAsFile, newLocalRepo, readAll, reopenLocalRepo } from './testing/helpers.js'
import { openFileSource } from './testing/file-source.js'
import type { ProgressUpdate } from '../common/progress.js'
import type { ReadIntoSource } from './ingest/read-into.js'

describe('repository: init, open, ingest, read back', () => {
  it('round-trips a mixed image byte for byte and deduplicates a second backup', async () => {
    await withTempDir('repo-rt', async (dir) => {
      const img = path.join(dir, 'disk.img')
      await writeMixedImage(img, { blocks: 7, blockSize: CHUNK_SIZE, pattern: ['random', 'zero', 'text'], tail: 3 * MiB + 512 })
      await using repo = await newLocalRepo(dir)
      const updates: ProgressUpdate[] = []
      const first = await backupFile(repo, img, { progress: (u) => updates.push(u) })
      expect(first.stats.chunksZero).toBe(2)
      expect(first.stats.chunksNew).toBe(6)
      expect(updates.at(-1)?.bytesDone).toBe(first.disks[0]?.size)
      const second = await backupFile(repo, img)
      expect(second.stats.chunksNew).toBe(0)
      expect(second.stats.bytesNew).toBe(0)
      expect(second.stats.chunksReused).toBe(6)
      const disk = await repo.openDisk(second.id, 'disk0')
      expect(await expectSameAsFile(disk, img)).toBe(true)
      // Reads that straddle chunk boundaries and end at the odd-sized tail.
      const whole = await readFile(img)
      for (const [offset, length] of [[CHUNK_SIZE - 100, 200], [0, 1], [whole.length - 777, 777], [3 * CHUNK_SIZE - 5, CHUNK_SIZE + 10]] as const) {
        expect((await disk.read(offset, length)).equals(whole.subarray(offset, offset + length))).toBe(true)
      }
      await expect(disk.read(whole.length - 1, 2)).rejects.toThrow(RangeError)
      const extents = []
      for await (const e of disk.extents()) extents.push(e)
      expect(extents.filter((e) => e.kind === 'zero').length).toBe(2)
      await disk.close()
      const points = await repo.listPoints()
      expect(points.map((p) => p.id)).toEqual([first.id, second.id].sort())
      const manifest = await repo.getPoint(first.id)
      expect(manifest.vm.config).toEqual(VM.config)
      expect((await repo.check()).ok).toBe(true)
    })
  })

  it('takes unchanged chunks from the parent without reading them when changed ranges are given', async () => {
    await withTempDir('repo-cbt', async (dir) => {
      const img = path.join(dir, 'disk.img')
      await writeMixedImage(img, { blocks: 6, blockSize: CHUNK_SIZE, pattern: ['random', 'text'] })
      await using repo = await newLocalRepo(dir)
      const base = await backupFile(repo, img)
      await patchFile(img, 2 * CHUNK_SIZE + 1000, randomBytes(5000))
      const source = await openFileSource(img)
      const reads: number[] = []
      // Count every way of reading (plain reads and the read-into capability the test source offers).
      const spy = { ...source, read: (o: number, l: number, s?: AbortSignal) => (reads.push(o), source.read(o, l, s)) }
      const into = (source as Partial<ReadIntoSource>).readInto?.bind(source)
      if (into !== undefined) Object.assign(spy, { readInto: (t: Buffer, o: number, s?: AbortSignal) => (reads.push(o), into(t, o, s)) })
      const inc = await repo.ingest({
        vm: VM,
        sourceHost: { name: 'host1' },
        mode: 'hot',
        consistency: 'crash',
        parentId: base.id,
        disks: [{ name: 'disk0', source: spy, changedRanges: [{ offset: 2 * CHUNK_SIZE + 1000, length: 5000 }] }],
      })
      await source.close()
      expect(reads).toEqual([2 * CHUNK_SIZE])
      expect(inc.stats.chunksFromParent).toBe(5)
      expect(inc.stats.chunksNew).toBe(1)
      expect(inc.parentId).toBe(base.id)
      const disk = await repo.openDisk(inc.id, 'disk0')
      expect(await expectSameAsFile(disk, img)).toBe(true)
    })
  })

  it('falls back to a full (deduplicating) backup when the parent point is gone', async () => {
    await withTempDir('repo-noparent', async (dir) => {
      const img = path.join(dir, 'disk.img')
      await writeMixedImage(img, { blocks: 2, blockSize: CHUNK_SIZE, pattern: ['text'] })
      await using repo = await newLocalRepo(dir)
      const source = await openFileSource(img)
      const p = await repo.ingest({
        vm: VM,
        sourceHost: { name: 'h' },
        mode: 'hot',
        consistency: 'crash',
        parentId: '20200101T000000Z-00000000',
        disks: [{ name: 'disk0', source, changedRanges: [] }],
      })
      await source.close()
      expect(p.parentId).toBeNull()
      expect(p.stats.bytesRead).toBe(2 * CHUNK_SIZE)
      expect(await expectSameAsFile(await repo.openDisk(p.id, 'disk0'), img)).toBe(true)
    })
  })

  it('skips zero extents without reading them and reads only the data parts of mixed chunks', async () => {
    await withTempDir('repo-ext', async (dir) => {
      const img = path.join(dir, 'disk.img')
      await writeMixedImage(img, { blocks: 8, blockSize: 2 * MiB, pattern: ['text', 'zero', 'zero', 'zero', 'random', 'zero'] })
      await using repo = await newLocalRepo(dir)
      const zeroExtents = [{ offset: 2 * MiB, length: 6 * MiB }, { offset: 10 * MiB, length: 2 * MiB }]
      const p = await backupFile(repo, img, { zeroExtents })
      expect(p.stats.bytesRead).toBe(16 * MiB - 8 * MiB)
      expect(p.stats.chunksZero).toBe(1)
      expect(await expectSameAsFile(await repo.openDisk(p.id, 'disk0'), img)).toBe(true)
    })
  })

  it('zeroes the holes of mixed chunks read into recycled buffers (no byte of an earlier chunk leaks in)', async () => {
    await withTempDir('repo-gaps', async (dir) => {
      // 12 chunks of random bytes first, so the chunk buffers have gone round the pool and come back dirty; then
      // 6 chunks with data at [0, 1) and [2, 3) MiB and holes before, between and after.
      const whole = Buffer.alloc(18 * CHUNK_SIZE)
      randomBytes(12 * CHUNK_SIZE).copy(whole)
      const zeroExtents: { offset: number; length: number }[] = []
      for (let c = 12; c < 18; c++) {
        const base = c * CHUNK_SIZE
        randomBytes(MiB).copy(whole, base)
        randomBytes(MiB).copy(whole, base + 2 * MiB)
        zeroExtents.push({ offset: base + MiB, length: MiB }, { offset: base + 3 * MiB, length: CHUNK_SIZE - 3 * MiB })
      }
      const img = path.join(dir, 'disk.img')
      await writeFile(img, whole)
      await using repo = await newLocalRepo(dir)
      const p = await backupFile(repo, img, { zeroExtents })
      expect(p.stats.bytesRead).toBe(12 * CHUNK_SIZE + 6 * 2 * MiB)
      expect((await readAll(await repo.openDisk(p.id, 'disk0'))).equals(whole)).toBe(true)
    })
  })

  it('ingests from a stream and refuses a stream of the wrong length', async () => {
    await withTempDir('repo-stream', async (dir) => {
      await using repo = await newLocalRepo(dir)
      const data = randomBytes(5 * MiB + 123)
      async function* pieces(buf: Buffer) {
        for (let at = 0; at < buf.length; at += 65_537) yield await Promise.resolve(buf.subarray(at, at + 65_537))
      }
      const p = await repo.ingest({ vm: VM, sourceHost: { name: 'h' }, mode: 'cold', consistency: 'offline', disks: [{ name: 'xvda', stream: pieces(data), size: data.length }] })
      expect((await readAll(await repo.openDisk(p.id, 'xvda'))).equals(data)).toBe(true)
      await expect(repo.ingest({ vm: VM, sourceHost: { name: 'h' }, mode: 'cold', consistency: 'offline', disks: [{ name: 'xvda', stream: pieces(data), size: data.length + 1 }] })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      })
      expect(await repo.listPoints()).toHaveLength(1)
    })
  })

  it('a cancelled backup leaves no restore point and no lock', async () => {
    await withTempDir('repo-cancel', async (dir) => {
      const img = path.join(dir, 'disk.img')
      await writeMixedImage(img, { blocks: 6, blockSize: CHUNK_SIZE, pattern: ['random'] })
      await using repo = await newLocalRepo(dir)
      const controller = new AbortController()
      await expect(backupFile(repo, img, { signal: controller.signal, progress: (u) => u.bytesDone >= 2 * CHUNK_SIZE && controller.abort() })).rejects.toMatchObject({ code: 'CANCELLED' })
      expect(await repo.listPoints()).toHaveLength(0)
      expect(await readdir(path.join(dir, 'repo', 'locks'))).toEqual([])
      const report = await repo.gc()
      expect(report.chunksDeleted).toBeGreaterThan(0)
      expect((await repo.check()).chunks).toBe(0)
    })
  })

  it('encrypts: ids are keyed, contents unreadable without the key, wrong passphrase refused', async () => {
    await withTempDir('repo-enc', async (dir) => {
      const img = path.join(dir, 'disk.img')
      await writeMixedImage(img, { blocks: 2, blockSize: CHUNK_SIZE, pattern: ['text'] })
      const repo = await newLocalRepo(dir, { passphrase: 'correct horse' })
      expect(repo.info().encrypted).toBe(true)
      const p = await backupFile(repo, img)
      const manifest = await repo.getPoint(p.id)
      const plainIds = [0, 1].map(async (i) => createHash('sha256').update((await readFile(img)).subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE)).digest('hex'))
      for (const id of await Promise.all(plainIds)) expect(manifest.disks[0]?.chunks).not.toContain(id)
      await repo.close()
      const manifestFile = await readFile(path.join(dir, 'repo', 'points', `${p.id}.json`))
      expect(manifestFile.includes(Buffer.from('web01'))).toBe(false)
      await expect(reopenLocalRepo(dir, { passphrase: 'wrong' })).rejects.toMatchObject({ code: 'WRONG_PASSPHRASE' })
      await expect(reopenLocalRepo(dir)).rejects.toMatchObject({ code: 'PASSPHRASE_REQUIRED' })
      await using again = await reopenLocalRepo(dir, { passphrase: 'correct horse' })
      expect(await expectSameAsFile(await again.openDisk(p.id, 'disk0'), img)).toBe(true)
      expect((await again.verify()).ok).toBe(true)
    })
  })

  it('reports a missing repository, an existing one and an unsupported version clearly', async () => {
    await withTempDir('repo-open', async (dir) => {
      const backend = localBackend({ path: path.join(dir, 'repo') })
      await expect(openRepository({ backend })).rejects.toMatchObject({ code: 'REPO_NOT_FOUND' })
      const repo = await initRepository({ backend, workers: 0, scrypt: FAST_SCRYPT })
      await repo.close()
      await expect(initRepository({ backend: localBackend({ path: path.join(dir, 'repo') }) })).rejects.toMatchObject({ code: 'REPO_EXISTS' })
      const configFile = path.join(dir, 'repo', 'config.json')
      const config = JSON.parse(await readFile(configFile, 'utf8')) as Record<string, unknown>
      await writeFile(configFile, JSON.stringify({ ...config, version: 99 }))
      await expect(openRepository({ backend: localBackend({ path: path.join(dir, 'repo') }) })).rejects.toMatchObject({ code: 'UNSUPPORTED_FORMAT' })
      await writeFile(configFile, '{"format":"lifeboat-repository"')
      await expect(openRepository({ backend: localBackend({ path: path.join(dir, 'repo') }) })).rejects.toMatchObject({ code: 'CORRUPT_CONFIG' })
    })
  })
})
