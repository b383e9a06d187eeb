import { join } from 'node:path'
import { rm } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FileSource } from '../../disks/file-source'
import { makeTempDir, run } from '../../disks/testing/tools'
import { openVolume } from '../open-volume'
import { expectHolesKnown, expectSameTree, walkVolume } from '../testing/compare'
import { makeExt } from '../testing/fixtures'
import { buildTree, describeTree, type TreeItem } from '../testing/tree'

let dir: string
let src: string
let truth: Map<string, TreeItem>

beforeAll(async () => {
  dir = await makeTempDir('ext')
  src = join(dir, 'src')
  await buildTree(src, { bigDirFiles: 1500, depth: 30, largeBytes: 24 * 1024 * 1024, fragments: 2000, symlinks: true, fatSafe: false })
  truth = await describeTree(src)
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const variants = [
  { name: 'ext4 (extents, htree, 64-bit)', kind: 'ext4' as const, features: '64bit' },
  { name: 'ext4 with inline data and metadata checksums', kind: 'ext4' as const, features: 'inline_data,metadata_csum' },
  { name: 'ext4 with 1 KiB blocks (deeper extent trees)', kind: 'ext4' as const, blockSize: 1024 },
  { name: 'ext3 (block maps, journal)', kind: 'ext3' as const },
  { name: 'ext2 (block maps)', kind: 'ext2' as const },
]

describe('ext2/3/4 against mke2fs -d and debugfs', () => {
  for (const v of variants) {
    it(`reads every file of ${v.name}`, async () => {
      const image = join(dir, `${v.kind}.img`)
      await makeExt(image, src, { sizeMiB: 400, kind: v.kind, label: 'extlabel', ...(v.features ? { features: v.features } : {}), ...(v.blockSize ? { blockSize: v.blockSize } : {}) })
      const file = await FileSource.open(image)
      try {
        const volume = await openVolume(file)
        expect(volume.info.type).toBe(v.kind)
        expect(volume.info.label).toBe('extlabel')
        expectSameTree(await walkVolume(volume), truth, { modes: true, symlinks: true, mtimeSlack: 0, ignore: ['/lost+found'] })
        await expectHolesKnown(volume, '/sparse.img', 1024 * 1024)
        const hello = await volume.stat('/hello.txt')
        expect(hello.mtime?.toISOString()).toBe('2001-02-03T04:05:06.000Z')
        expect(hello.mode).toBe(0o640)
        // A range read returns just those bytes (and the sparse file's holes read as zeros).
        const parts: Buffer[] = []
        for await (const b of volume.readFile('/sparse.img', { start: 5 * 1024 * 1024 - 10, end: 5 * 1024 * 1024 + 10 })) parts.push(b)
        const range = Buffer.concat(parts)
        expect(range.length).toBe(20)
        expect(range.subarray(0, 10).every((b) => b === 0)).toBe(true)
        // Intermediate symlinks are followed, the last one is not.
        expect((await volume.stat('/link-deep')).type).toBe('symlink')
        if (v.kind === 'ext4' && v.features === '64bit') {
          const debugfs = await run('debugfs', ['-R', 'stat /fragmented.bin', image])
          expect(debugfs).toMatch(/\(ETB1\)|depth|ETB/)
          const listing = await run('debugfs', ['-R', 'ls -p /many', image])
          const names = listing.split('\n').filter((l) => l.startsWith('/')).map((l) => l.split('/')[5]).filter((n) => n && n !== '.' && n !== '..')
          expect(names.length).toBe(1500)
        }
        await volume.close()
      } finally {
        await file.close()
      }
    })
  }
})
