import { describe, expect, it } from 'vitest'
import { S3Client } from '@aws-sdk/client-s3'
import path from 'node:path'
import { CHUNK_SIZE } from '../format.js'
import { s3Backend } from '../backends/s3-backend.js'
import { openRepository } from '../repository.js'
import { RepositoryError } from '../errors.js'
import { startS3 } from '../testing/s3-server.js'
import { startCutProxy } from '../testing/cut-proxy.js'
import { withTempDir, writeMixedImage } from '../testing/fixtures.js'
import { backupFile, expectSameAsFile, newLocalRepo } from '../testing/helpers.js'

describe('a copy to S3 whose connection is cut', { timeout: 180_000 }, () => {
  it('fails plainly, leaves no point in the target, and resumes without sending again what arrived', async () => {
    await withTempDir('copy-cut', async (dir) => {
      const image = path.join(dir, 'a.img')
      await writeMixedImage(image, { blocks: 12, blockSize: CHUNK_SIZE, pattern: ['random', 'text'], seed: 7 })
      const locking = { heartbeatMs: 200, staleAfterMs: 1500, timeoutMs: 20_000 }
      await using repo = await newLocalRepo(dir, { locking })
      const point = await backupFile(repo, image)
      await using s3 = await startS3(path.join(dir, 's3'))
      await using proxy = await startCutProxy(Number(new URL(s3.endpoint).port))
      const client = new S3Client({
        endpoint: `http://127.0.0.1:${proxy.port}`,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        maxAttempts: 2,
      })
      const target = s3Backend({ client, bucket: s3.bucket, prefix: 'copy/', ownsClient: true })
      let seen = 0
      const error: unknown = await repo
        .copyPoint({
          pointId: point.id,
          target,
          progress: () => {
            if (++seen === 5) proxy.cut()
          },
        })
        .catch((e: unknown) => e)
      expect(error).toBeInstanceOf(RepositoryError)
      expect((error as RepositoryError).message).toMatch(/storage failed while copying a restore point/)
      expect((error as RepositoryError).code).toBe('BACKEND_ERROR')
      proxy.heal()
      const direct = s3Backend({ client: s3.client, bucket: s3.bucket, prefix: 'copy/' })
      const points = []
      for await (const o of direct.list('points/')) points.push(o.key)
      expect(points).toEqual([])
      const arrived = []
      for await (const o of direct.list('chunks/')) arrived.push(o.key)
      expect(arrived.length).toBeGreaterThanOrEqual(5)

      const report = await repo.copyPoint({ pointId: point.id, target })
      expect(report.chunksResumed).toBe(arrived.length)
      expect(report.chunksSent).toBe(report.chunks - arrived.length)
      const after = []
      for await (const o of direct.list('chunks/')) after.push(o.key)
      expect(after.length).toBe(report.chunks)
      await target.close()

      await using copy = await openRepository({ backend: direct, workers: 1 })
      expect(await expectSameAsFile(await copy.openDisk(point.id, 'disk0'), image)).toBe(true)
      expect((await copy.verify()).ok).toBe(true)
    })
  })
})
