import { rm, writeFile } from 'node:fs/promises'
import type * as FsPromises from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { FileSource } from './file-source'
import { hasTool, makeTempDir, run } from './testing/tools'
import { releaseReaders, settlesWithin } from './testing/fifo'

/** Lets a test make the pre-open look see a regular file where a pipe is: the race the descriptor check covers. */
const swap = vi.hoisted(() => ({ statAs: undefined as string | undefined }))
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof FsPromises>()
  return { ...real, stat: (path: string) => real.stat(swap.statAs ?? path) }
})

const haveMkfifo = process.platform !== 'win32' && (await hasTool('mkfifo'))



describe.skipIf(!haveMkfifo)('FileSource refuses what is not an image file, without hanging', () => {
  let dir: string
  let fifo: string
  let regular: string
  beforeAll(async () => {
    dir = await makeTempDir('file-source')
    fifo = join(dir, 'pipe.img')
    regular = join(dir, 'disk.raw')
    await run('mkfifo', [fifo])
    await writeFile(regular, Buffer.alloc(4096, 1))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('refuses a named pipe at once with a plain error', async () => {
    try {
      const err = await settlesWithin(FileSource.open(fifo).then(() => undefined, (e: unknown) => e), 3000)
      expect(err).toMatchObject({ name: 'DiskFormatError', code: 'not-a-file', message: `${fifo} is a named pipe, not a disk image file; nothing was read from it` })
    } finally {
      await releaseReaders(fifo)
    }
  })

  it('refuses a pipe swapped in after the path was looked at: the open does not wait and the descriptor is checked', async () => {
    swap.statAs = regular
    try {
      const err = await settlesWithin(FileSource.open(fifo).then(() => undefined, (e: unknown) => e), 3000)
      expect(err).toMatchObject({ name: 'DiskFormatError', code: 'not-a-file', message: expect.stringContaining('is a named pipe') })
    } finally {
      swap.statAs = undefined
      await releaseReaders(fifo)
    }
  })

  it('refuses a folder and a character device, and still opens a regular file', async () => {
    await expect(FileSource.open(dir)).rejects.toMatchObject({ code: 'not-a-file', message: expect.stringContaining('is a folder') })
    await expect(FileSource.open('/dev/null')).rejects.toMatchObject({ code: 'not-a-file', message: expect.stringContaining('is a character device') })
    const file = await FileSource.open(regular)
    try {
      expect(file.size).toBe(4096)
      expect((await file.read(100, 4)).equals(Buffer.alloc(4, 1))).toBe(true)
    } finally {
      await file.close()
    }
  })
})
