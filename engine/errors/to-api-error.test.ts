import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ext4ImageOf, hasTool, seededBytes } from '../disks/testing/tools'
import { openImage, type OpenedImage } from '../filesystems/browse'
import { FilesystemError } from '../filesystems/errors'
import { extractTo } from '../filesystems/ops/extract'
import { toApiError } from './to-api-error'

const haveTools = await hasTool('mkfs.ext4')

describe('toApiError for filesystem limits', () => {
  it('keeps a search or count limit as INVALID_INPUT', () => {
    expect(toApiError(new FilesystemError('limit', 'Restore stopped: more than 10 bytes')).code).toBe('INVALID_INPUT')
  })
})

// A restore outside a job (extractTo called directly, its error passed to a door) must say NO_SPACE like the job does.
describe.skipIf(!haveTools)('a restore refused by the free-space check, outside a job', () => {
  let dir: string
  let opened: OpenedImage
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lb-no-space-'))
    const image = await ext4ImageOf(dir, 'fs', { 'random.bin': seededBytes(3 * 1024 * 1024, 3) }, '16M')
    opened = await openImage([image])
  })
  afterAll(async () => {
    await opened.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('is NO_SPACE with what is needed and what is free, and nothing is written', async () => {
    const volume = await opened.openVolume(undefined)
    const out = path.join(dir, 'out')
    const statfs = () => Promise.resolve({ bavail: 10, bsize: 4096 })
    const err = await extractTo(volume, '/random.bin', out, { platform: 'posix', statfs }).then(
      () => undefined,
      (e: unknown) => e,
    )
    const api = toApiError(err)
    expect(api.code).toBe('NO_SPACE')
    expect(api.message).toMatch(/needs 3\.0 MiB \(3145728 bytes\) but only 40 KiB \(40960 bytes\) are free/)
    expect(api.params).toMatchObject({ needed: 3145728, free: 40960 })
    expect(await readdir(dir)).not.toContain('out')
  })
})
