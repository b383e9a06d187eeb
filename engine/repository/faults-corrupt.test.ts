import { describe, expect, it } from 'vitest'
import { open, readFile, rm, truncate, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { compress } from 'zstd-napi'
import { CHUNK_SIZE } from './format.js'
import { withTempDir, writeMixedImage } from './testing/fixtures.js'
import { backupFile, newLocalRepo, reopenLocalRepo } from './testing/helpers.js'
import { chunkFiles, editManifest, flipBit } from './testing/tamper.js'

describe('damaged and hostile repository contents', () => {
  for (const passphrase of [undefined, 'secret']) {
    it(`a flipped bit in a chunk is found by verify, named per point, and reading it throws (${passphrase === undefined ? 'plain' : 'encrypted'})`, async () => {
      await withTempDir('bitflip', async (dir) => {
        const img = path.join(dir, 'disk.img')
        await writeMixedImage(img, { blocks: 3, blockSize: CHUNK_SIZE, pattern: ['text', 'random', 'text'] })
        await using repo = await newLocalRepo(dir, passphrase === undefined ? {} : { passphrase })
        const p1 = await backupFile(repo, img)
        const p2 = await backupFile(repo, img)
        const manifest = await repo.getPoint(p1.id)
        const victim = manifest.disks[0]!.chunks[1]!
        const file = (await chunkFiles(path.join(dir, 'repo'))).find((f) => f.endsWith(victim))!
        await flipBit(file, -40)
        const report = await repo.verify()
        expect(report.ok).toBe(false)
        expect(report.damagedChunks).toEqual([expect.objectContaining({ id: victim, problem: 'corrupt' })])
        expect(report.damagedPoints.map((d) => d.pointId)).toEqual([p1.id, p2.id].sort())
        expect(report.damagedPoints[0]!.disks).toEqual([{ disk: 'disk0', chunks: [{ index: 1, offset: CHUNK_SIZE, id: victim }] }])
        const disk = await repo.openDisk(p2.id, 'disk0')
        await expect(disk.read(CHUNK_SIZE + 10, 100)).rejects.toMatchObject({ code: 'CORRUPT_CHUNK', params: { pointId: p2.id, index: 1 } })
        expect((await disk.read(0, 100)).equals((await readFile(img)).subarray(0, 100))).toBe(true)
        await expect(repo.export({ pointId: p1.id, disk: 'disk0', format: 'raw', output: path.join(dir, 'x.raw') })).rejects.toMatchObject({ code: 'CORRUPT_CHUNK' })
        // A missing chunk is reported as such.
        await rm(file)
        expect((await repo.verify()).damagedChunks[0]).toMatchObject({ id: victim, problem: 'missing' })
        await expect(disk.read(CHUNK_SIZE, 1)).rejects.toMatchObject({ code: 'MISSING_CHUNK' })
      })
    })
  }

  it('rejects manifests that claim impossible sizes, counts or ids — even with a recomputed checksum', async () => {
    await withTempDir('hostile-manifest', async (dir) => {
      const img = path.join(dir, 'disk.img')
      await writeMixedImage(img, { blocks: 2, blockSize: CHUNK_SIZE, pattern: ['text'] })
      const repoDir = path.join(dir, 'repo')
      const setup = await newLocalRepo(dir)
      const p = await backupFile(setup, img)
      await setup.close()
      const original = await readFile(path.join(repoDir, 'points', `${p.id}.json`))
      const cases: [string, (m: Record<string, unknown>) => void, RegExp][] = [
        ['size 2^60', (m) => ((m.disks as { size: number }[])[0]!.size = 2 ** 60), /impossible size/],
        ['negative size', (m) => ((m.disks as { size: number }[])[0]!.size = -5), /impossible size/],
        ['more bytes than chunks', (m) => ((m.disks as { size: number }[])[0]!.size = 100 * CHUNK_SIZE), /does not match its size/],
        ['path in a chunk id', (m) => ((m.disks as { chunks: unknown[] }[])[0]!.chunks[0] = '../../../etc/passwd'), /invalid chunk id/],
        ['ten thousand disks', (m) => (m.disks = Array.from({ length: 10_000 }, () => (m.disks as unknown[])[0])), /disk list is invalid/],
        ['wrong chunk size', (m) => (m.chunkSize = 1), /chunk size/],
        ['a different point id', (m) => (m.id = '20000101T000000Z-00000000'), /does not match its file name/],
        ['swapped chunk', (m) => ((m.disks as { chunks: unknown[] }[])[0]!.chunks[0] = 'a'.repeat(64)), /chunk list checksum/],
      ]
      for (const [name, edit, message] of cases) {
        await writeFile(path.join(repoDir, 'points', `${p.id}.json`), original)
        await editManifest(repoDir, p.id, edit)
        await using repo = await reopenLocalRepo(dir)
        const attempt = repo.getPoint(p.id)
        await expect(attempt, name).rejects.toMatchObject({ code: 'CORRUPT_MANIFEST' })
        await expect(attempt, name).rejects.toThrow(message)
        const report = await repo.verify()
        expect(report.damagedPoints, name).toEqual([expect.objectContaining({ pointId: p.id })])
        expect((await repo.check()).problems[0]?.kind, name).toBe('manifest')
        await expect(repo.gc(), name).rejects.toMatchObject({ code: 'CORRUPT_MANIFEST' })
      }
      // Hand edits without the checksum, deep nesting, and a manifest far too large are all refused.
      const file = path.join(repoDir, 'points', `${p.id}.json`)
      await writeFile(file, original.toString().replace('"mode":"cold"', '"mode":"warm"'))
      await using repo = await reopenLocalRepo(dir)
      await expect(repo.getPoint(p.id)).rejects.toThrow(/checksum does not match/)
      await writeFile(file, '['.repeat(1_000_000) + ']'.repeat(1_000_000))
      await expect(repo.getPoint(p.id)).rejects.toMatchObject({ code: 'CORRUPT_MANIFEST' })
      await writeFile(file, '')
      await truncate(file, 300 * 1024 * 1024)
      await expect(repo.getPoint(p.id)).rejects.toThrow(/beyond the .* allowed/)
      expect((await repo.listPoints()).map((x) => x.id)).toEqual([])
    })
  })

  it('rejects chunk files that are huge, claim a huge length, or hide a zstd bomb, without allocating for them', async () => {
    await withTempDir('hostile-chunk', async (dir) => {
      const img = path.join(dir, 'disk.img')
      await writeMixedImage(img, { blocks: 1, blockSize: CHUNK_SIZE, pattern: ['text'] })
      await using repo = await newLocalRepo(dir)
      const p = await backupFile(repo, img)
      const [file] = await chunkFiles(path.join(dir, 'repo'))
      const original = await readFile(file!)
      const readIt = async (): Promise<unknown> => (await repo.openDisk(p.id, 'disk0')).read(0, 10)
      const rssBefore = process.memoryUsage().rss

      await truncate(file!, 8 * 1024 ** 3)
      await expect(readIt()).rejects.toThrow(/more than any chunk can be/)

      const header = Buffer.from(original.subarray(0, 12))
      header.writeUInt32BE(0xffffffff, 8)
      await writeFile(file!, Buffer.concat([header, original.subarray(12)]))
      await expect(readIt()).rejects.toThrow(/more than the 4194304 allowed/)

      // A frame that really expands to 64 MiB, declared as a 4 MiB chunk: decoding stops at 4 MiB.
      const bomb = compress(Buffer.alloc(64 * 1024 * 1024, 7))
      const bombHeader = Buffer.from(original.subarray(0, 12))
      bombHeader.writeUInt32BE(CHUNK_SIZE, 8)
      await writeFile(file!, Buffer.concat([bombHeader, bomb]))
      await expect(readIt()).rejects.toThrow(/compressed data is damaged/)

      const flags = Buffer.from(original)
      flags[4] = 0xff
      await writeFile(file!, flags)
      await expect(readIt()).rejects.toThrow(/unknown flags/)
      await writeFile(file!, original.subarray(0, 5))
      await expect(readIt()).rejects.toThrow(/shorter than its header/)
      expect(process.memoryUsage().rss - rssBefore).toBeLessThan(512 * 1024 * 1024)
      await writeFile(file!, original)
      expect((await repo.verify()).ok).toBe(true)
    })
  })

  it('refuses a config that asks scrypt for absurd resources', async () => {
    await withTempDir('hostile-config', async (dir) => {
      const repo = await newLocalRepo(dir, { passphrase: 'x' })
      await repo.close()
      const configFile = path.join(dir, 'repo', 'config.json')
      const config = JSON.parse(await readFile(configFile, 'utf8')) as { encryption: { kdf: { N: number } } }
      config.encryption.kdf.N = 2 ** 30
      await writeFile(configFile, JSON.stringify(config))
      await expect(reopenLocalRepo(dir, { passphrase: 'x' })).rejects.toMatchObject({ code: 'CORRUPT_CONFIG' })
      const handle = await open(configFile, 'w')
      await handle.truncate(100 * 1024 * 1024)
      await handle.close()
      await expect(reopenLocalRepo(dir, { passphrase: 'x' })).rejects.toMatchObject({ code: 'CORRUPT_CONFIG' })
    })
  })
})
