import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { JobDetailDto } from '../api/contract-jobs'
import { dispatch } from '../api/dispatch'
import { ext4ImageOf, hasTool, run, seededBytes } from '../disks/testing/tools'
import { createEngine, type Engine } from '../engine'
import { canMount } from '../filesystems/testing/fixtures'

/** The restore job on images a hostile guest could leave: it must end, say what it left out, and never fill the disk. */
const haveTools = (await hasTool('mkfs.ext4')) && (await hasTool('debugfs'))
const ctx = { signal: new AbortController().signal }

describe.skipIf(!haveTools)('restore jobs from hostile images', () => {
  let engine: Engine
  let dir: string
  let looped: string
  let big: string
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lb-browse-hostile-'))
    const src = path.join(dir, 'src')
    await mkdir(path.join(src, 'd'), { recursive: true })
    await mkdir(path.join(src, 'files'))
    await writeFile(path.join(src, 'd', 'f0.txt'), 'd0\n')
    await writeFile(path.join(src, 'files', 'broken.bin'), seededBytes(200_000, 1))
    await writeFile(path.join(src, 'files', 'fine.txt'), 'fine\n')
    looped = path.join(dir, 'looped.img')
    await run('mkfs.ext4', ['-q', '-F', '-O', '^extent,^64bit,^metadata_csum', '-b', '4096', '-d', src, looped, '32M'])
    await run('debugfs', ['-w', '-R', 'ln / /d/loop', looped])
    await run('debugfs', ['-w', '-R', 'sif /files/broken.bin block[5] 4000000000', looped])
    big = await ext4ImageOf(dir, 'big', { 'random.bin': seededBytes(3 * 1024 * 1024, 2) }, '16M')
    engine = await createEngine({ home: path.join(dir, 'home'), door: 'cli' })
  })
  afterAll(async () => {
    await engine.dispose()
    // The job store may still be saving the last job record as the engine closes.
    await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
  })

  async function restore(image: string, paths: string[], toDirectory: string): Promise<JobDetailDto> {
    const res = await dispatch(engine.handlers, 'files.restore', { source: { kind: 'image', paths: [image] }, paths, toDirectory }, ctx)
    expect(res.ok).toBe(true)
    const jobId = res.ok ? (res.value as { jobId: string }).jobId : ''
    await expect.poll(async () => (await engine.jobs.get(jobId)).state, { timeout: 30_000 }).not.toBe('running')
    return await engine.jobs.get(jobId)
  }

  it('a folder linked back to its parent: the job ends, restores the rest and lists what it left out', async () => {
    const to = path.join(dir, 'restored')
    const job = await restore(looped, ['/'], to)
    expect(job.state).toBe('succeeded')
    const warnings = job.log.filter((l) => l.level === 'warn').map((l) => l.message)
    expect(warnings.some((m) => m.startsWith('Not restored: /d/loop:') && /one of its own parents/.test(m))).toBe(true)
    expect(warnings.some((m) => m.startsWith('Not restored: /files/broken.bin:') && /could not be read/.test(m))).toBe(true)
    expect(job.result).toMatchObject({ skipped: 2 })
    expect(job.leftBehind).toEqual([])
    expect((await readdir(path.join(to, 'files'))).sort()).toEqual(['fine.txt'])
  })

  it.skipIf(!canMount)('refuses to restore more than the target folder has room for, and writes nothing', async () => {
    const small = path.join(dir, 'small')
    await mkdir(small)
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small])
    try {
      const job = await restore(big, ['/random.bin'], path.join(small, 'out'))
      expect(job.state).toBe('failed')
      expect(job.error).toMatchObject({ code: 'NO_SPACE', message: expect.stringMatching(/needs 3\.0 MiB \(3145728 bytes\) but only .* \(\d+ bytes\) are free/) as unknown })
      expect(job.leftBehind).toEqual([])
      expect(await readdir(small)).toEqual([])
    } finally {
      await run('umount', [small])
    }
  })
})
