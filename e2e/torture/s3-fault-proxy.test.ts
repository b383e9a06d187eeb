import { mkdtemp, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { startS3 } from '../../engine/repository/testing/s3-server'
import { Prng } from './prng'
import { startS3FaultProxy } from './s3-fault-proxy'

describe('the S3 fault proxy', () => {
  it('lets go of a request whose client vanished half-way through the body, so S3 and the proxy can stop', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'lb-s3-proxy-'))
    try {
      const s3 = await startS3(dir)
      const url = new URL(s3.endpoint)
      const proxy = await startS3FaultProxy({ host: url.hostname, port: Number(url.port) }, Prng.derive(1, 'test'))
      // A PUT that announces 1 MiB, sends 1 KiB and is then cut, as a Lifeboat killed mid-upload would leave it.
      const target = new URL(proxy.endpoint)
      const put = request({ host: target.hostname, port: Number(target.port), method: 'PUT', path: `/${s3.bucket}/half`, headers: { 'content-length': String(1024 * 1024) } })
      put.on('error', () => undefined)
      put.write(Buffer.alloc(1024))
      await new Promise((resolve) => setTimeout(resolve, 300))
      put.destroy()
      await new Promise((resolve) => setTimeout(resolve, 300))
      const started = Date.now()
      const stopped = Promise.all([proxy[Symbol.asyncDispose](), s3[Symbol.asyncDispose]()]).then(() => 'stopped')
      const stuck = new Promise((resolve) => setTimeout(() => resolve('still waiting after 10 s'), 10_000))
      expect(await Promise.race([stopped, stuck])).toBe('stopped')
      expect(Date.now() - started).toBeLessThan(10_000)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }, 30_000)
})
