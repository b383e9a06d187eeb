import { describe, expect, it } from 'vitest'
import { request } from 'node:http'
import path from 'node:path'
import { s3Backend } from '../backends/s3-backend.js'
import { withTempDir } from './fixtures.js'
import { startS3 } from './s3-server.js'

describe('the S3 test peer', () => {
  it('stores nothing for a PUT whose body stops short, as S3 does, and a whole PUT after it as usual', async () => {
    await withTempDir('s3-cut-put', async (dir) => {
      await using s3 = await startS3(path.join(dir, 's3'))
      const url = new URL(`${s3.endpoint}/${s3.bucket}/chunks/cut`)
      // Anonymous path-style PUT: the emulator accepts any signature; what matters is the body that stops short.
      await new Promise<void>((resolve) => {
        const req = request(url, { method: 'PUT', headers: { 'content-length': String(1 << 20) } })
        req.on('error', () => resolve())
        req.on('response', () => resolve())
        req.write(Buffer.alloc(64 << 10, 7), () => setTimeout(() => req.destroy(), 200))
      })
      // Give the emulator time to notice the cut and finish whatever it does with the half body.
      await new Promise((resolve) => setTimeout(resolve, 300))
      const backend = s3Backend({ client: s3.client, bucket: s3.bucket, prefix: '' })
      const listed = []
      for await (const o of backend.list('chunks/')) listed.push(o.key)
      expect(listed).toEqual([])
      expect(await backend.get('chunks/cut', { maxBytes: 2 << 20 })).toBeUndefined()
      await backend.put('chunks/cut', Buffer.alloc(1 << 20, 7))
      expect((await backend.get('chunks/cut', { maxBytes: 2 << 20 }))?.length).toBe(1 << 20)
    })
  })
})
