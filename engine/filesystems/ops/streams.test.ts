import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FileSource } from '../../disks/file-source'
import { hasTool, makeTempDir, run, seededBytes } from '../../disks/testing/tools'
import { openVolume } from '../open-volume'
import { canMount, makeNtfs } from '../testing/fixtures'
import { extractTo } from './extract'

/**
 * NTFS alternate data streams, written the way ntfs-3g stores them (a user.* extended attribute on its mount is a
 * named data stream), restored on request as NAME:STREAM beside the file.
 */
const haveTools = canMount && (await hasTool('mkntfs')) && (await hasTool('ntfs-3g')) && (await hasTool('python3'))

let dir: string
beforeAll(async () => {
  dir = await makeTempDir('streams')
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const zone = '[ZoneTransfer]\r\nZoneId=3'
const big = seededBytes(60_000, 7)

describe.skipIf(!haveTools)('NTFS alternate data streams (needs root for the ntfs-3g mount)', () => {
  it('restores each stream as NAME:STREAM with --streams, and none without', async () => {
    const src = join(dir, 'src')
    await mkdir(join(src, 'docs'), { recursive: true })
    await writeFile(join(src, 'docs', 'report.txt'), 'main data\n')
    await writeFile(join(src, 'docs', 'plain.txt'), 'no streams\n')
    const image = join(dir, 'ntfs.img')
    await makeNtfs(image, src, {
      sizeMiB: 16,
      extra: async (mnt) => {
        const file = join(mnt, 'docs', 'report.txt')
        const bigFile = join(dir, 'big.bin')
        await writeFile(bigFile, big)
        await run('python3', ['-c', `import os,sys; os.setxattr(sys.argv[1], 'user.Zone.Identifier', sys.argv[2].encode()); os.setxattr(sys.argv[1], 'user.big', open(sys.argv[3], 'rb').read())`, file, zone, bigFile])
      },
    })
    const file = await FileSource.open(image)
    try {
      const volume = await openVolume(file)
      const withStreams = join(dir, 'with')
      const report = await extractTo(volume, '/docs', withStreams, { streams: true })
      expect(report).toMatchObject({ files: 2, streams: 2, skipped: [], renamed: [] })
      expect((await readdir(join(withStreams, 'docs'))).sort()).toEqual(['plain.txt', 'report.txt', 'report.txt:Zone.Identifier', 'report.txt:big'])
      expect(await readFile(join(withStreams, 'docs', 'report.txt'), 'utf8')).toBe('main data\n')
      expect(await readFile(join(withStreams, 'docs', 'report.txt:Zone.Identifier'), 'utf8')).toBe(zone)
      expect((await readFile(join(withStreams, 'docs', 'report.txt:big'))).equals(big)).toBe(true)
      const without = join(dir, 'without')
      expect(await extractTo(volume, '/docs', without)).toMatchObject({ files: 2, streams: 0 })
      expect((await readdir(join(without, 'docs'))).sort()).toEqual(['plain.txt', 'report.txt'])
      await volume.close()
    } finally {
      await file.close()
    }
  })
})
