import { describe, expect, it } from 'vitest'
import path from 'node:path'
import { CHUNK_SIZE } from '../format.js'
import { withTempDir, writeMixedImage } from '../testing/fixtures.js'
import { backupFile, newLocalRepo } from '../testing/helpers.js'
import { chunkFiles, flipBit } from '../testing/tamper.js'

describe('verify of one restore point', () => {
  it('re-reads only the chunks that point uses, names its damage, and refuses a point that is not there', async () => {
    await withTempDir('verify-point', async (dir) => {
      const a = path.join(dir, 'a.img')
      const b = path.join(dir, 'b.img')
      await writeMixedImage(a, { blocks: 2, blockSize: CHUNK_SIZE, pattern: ['text', 'random'], seed: 1 })
      await writeMixedImage(b, { blocks: 3, blockSize: CHUNK_SIZE, pattern: ['random'], seed: 2 })
      await using repo = await newLocalRepo(dir)
      const pa = await backupFile(repo, a)
      const pb = await backupFile(repo, b)
      const onlyB = (await repo.getPoint(pb.id)).disks[0]!.chunks[2]!
      const file = (await chunkFiles(path.join(dir, 'repo'))).find((f) => f.endsWith(onlyB))!
      await flipBit(file, -40)

      const ofA = await repo.verify({ pointIds: [pa.id] })
      expect(ofA).toMatchObject({ ok: true, pointsChecked: 1, chunksChecked: 2, bytesChecked: 2 * CHUNK_SIZE })
      const ofB = await repo.verify({ pointIds: [pb.id] })
      expect(ofB).toMatchObject({ ok: false, pointsChecked: 1, chunksChecked: 3 })
      expect(ofB.damagedPoints).toEqual([{ pointId: pb.id, disks: [{ disk: 'disk0', chunks: [{ index: 2, offset: 2 * CHUNK_SIZE, id: onlyB }] }] }])
      expect((await repo.verify()).chunksChecked).toBe(5)
      await expect(repo.verify({ pointIds: ['20990101T000000Z-deadbeef'] })).rejects.toMatchObject({ code: 'POINT_NOT_FOUND' })
    })
  })
})
