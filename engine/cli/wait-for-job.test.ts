import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ext4ImageOf, hasTool, seededBytes } from '../disks/testing/tools'
import { createEngine, type Engine } from '../engine'
import type { CliIo } from './cli-io'
import { waitForJob } from './wait-for-job'

const haveTools = await hasTool('mkfs.ext4')

const quietIo: CliIo = { json: true, out: () => undefined, err: () => undefined, confirm: () => undefined, readStdin: () => Promise.resolve('') }

describe.skipIf(!haveTools)('waitForJob', () => {
  let dir: string
  let image: string
  let engine: Engine
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lb-wait-job-'))
    image = await ext4ImageOf(dir, 'fs', { 'data.bin': seededBytes(8 * 1024 * 1024, 7) }, '32M')
    engine = await createEngine({ home: path.join(dir, 'home'), door: 'cli' })
  })
  afterAll(async () => {
    await engine.dispose()
    await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
  })

  // SIGTERM between starting the job and following it: the abort event has fired before anyone listened.
  it('cancels the job when the signal was aborted before it started following it', async () => {
    const stop = new AbortController()
    stop.abort()
    const to = path.join(dir, 'out')
    const { jobId, done } = engine.browse.restore({ kind: 'image', paths: [image] }, undefined, ['/'], to)
    const job = await waitForJob(engine, jobId, quietIo, stop.signal)
    await done.catch(() => undefined)
    expect(job.state).toBe('cancelled')
  })
})
