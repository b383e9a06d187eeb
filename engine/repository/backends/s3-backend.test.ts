import { describe, expect, it } from 'vitest'
import path from 'node:path'
import { CHUNK_SIZE } from '../format.js'
import { initRepository, openRepository } from '../repository.js'
import { s3Backend } from './s3-backend.js'
import { withTempDir, writeMixedImage } from '../testing/fixtures.js'
import { FAST_SCRYPT, backupFile, expectSameAsFile } from '../testing/helpers.js'
import { startS3 } from '../testing/s3-server.js'
import { QEMU_FORMAT, qemuImg } from '../testing/qemu.js'

describe('S3-compatible backend (s3rver on 127.0.0.1)', () => {
  it('stores, lists, stats, deletes and refuses oversized objects', async () => {
    await withTempDir('s3-basic', async (dir) => {
      await using s3 = await startS3(path.join(dir, 's3'))
      const backend = s3Backend({ client: s3.client, bucket: s3.bucket, prefix: 'shop1/' })
      expect(backend.label).toBe('s3://lifeboat-test/shop1/')
      expect(await backend.get('config.json', { maxBytes: 100 })).toBeUndefined()
      await backend.put('points/a.json', Buffer.from('hello'))
      await backend.put('chunks/ab/x', Buffer.alloc(1000, 1))
      expect((await backend.get('points/a.json', { maxBytes: 100 }))?.toString()).toBe('hello')
      await expect(backend.get('chunks/ab/x', { maxBytes: 999 })).rejects.toThrow(/more than the 999 allowed/)
      const listed = []
      for await (const o of backend.list('chunks/')) listed.push(o)
      expect(listed).toEqual([expect.objectContaining({ key: 'chunks/ab/x', size: 1000 })])
      expect((await backend.stat('points/a.json'))?.size).toBe(5)
      await backend.delete('points/a.json')
      await backend.delete('points/a.json')
      expect(await backend.stat('points/a.json')).toBeUndefined()
      await expect(backend.put('../escape', Buffer.alloc(1))).rejects.toThrow(/Invalid repository object key/)
    })
  })

  it('runs a whole repository: encrypted backup, dedup, verify, export, prune and gc', async () => {
    await withTempDir('s3-repo', async (dir) => {
      await using s3 = await startS3(path.join(dir, 's3'))
      const img = path.join(dir, 'disk.img')
      await writeMixedImage(img, { blocks: 5, blockSize: CHUNK_SIZE, pattern: ['text', 'zero', 'random'], tail: 4096 })
      const backend = s3Backend({ client: s3.client, bucket: s3.bucket, prefix: 'repo/' })
      const created = await initRepository({ backend, passphrase: 'pw', scrypt: FAST_SCRYPT, workers: 1 })
      const p1 = await backupFile(created, img)
      const p2 = await backupFile(created, img)
      expect(p2.stats.chunksNew).toBe(0)
      await created.close()
      await using repo = await openRepository({ backend: s3Backend({ client: s3.client, bucket: s3.bucket, prefix: 'repo/' }), passphrase: 'pw', workers: 1 })
      expect(await expectSameAsFile(await repo.openDisk(p1.id, 'disk0'), img)).toBe(true)
      expect((await repo.verify()).ok).toBe(true)
      const out = path.join(dir, 'out.vhdx')
      await repo.export({ pointId: p2.id, disk: 'disk0', format: 'vhdx', output: out })
      expect((await qemuImg('compare', '-f', 'raw', '-F', QEMU_FORMAT.vhdx, img, out)).code).toBe(0)
      await repo.prune({ policy: { keepLast: 1 } })
      const gc = await repo.gc()
      expect(gc).toMatchObject({ chunksDeleted: 0, trashDropped: 1 })
      expect(await repo.listPoints()).toHaveLength(1)
      expect((await repo.check()).ok).toBe(true)
    })
  })
})
