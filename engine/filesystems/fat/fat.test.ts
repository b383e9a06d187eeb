import { join } from 'node:path'
import { rm } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FileSource } from '../../disks/file-source'
import { makeTempDir, run } from '../../disks/testing/tools'
import { openVolume } from '../open-volume'
import { expectSameTree, walkVolume } from '../testing/compare'
import { makeFat } from '../testing/fixtures'
import { buildTree, describeTree, type TreeItem } from '../testing/tree'

let dir: string
let src: string
let truth: Map<string, TreeItem>

beforeAll(async () => {
  dir = await makeTempDir('fat')
  src = join(dir, 'src')
  await buildTree(src, { bigDirFiles: 700, depth: 12, largeBytes: 6 * 1024 * 1024, fragments: 0, symlinks: false, fatSafe: true })
  truth = await describeTree(src)
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('FAT12/16/32 against mtools', () => {
  for (const bits of [32, 16] as const) {
    it(`reads every file and long name of FAT${bits}`, async () => {
      const image = join(dir, `fat${bits}.img`)
      await makeFat(image, src, { sizeMiB: bits === 32 ? 160 : 120, fatBits: bits, label: `FAT${bits}LBL` })
      const file = await FileSource.open(image)
      try {
        const volume = await openVolume(file)
        expect(volume.info.type).toBe(`fat${bits}`)
        expect(volume.info.label).toBe(`FAT${bits}LBL`)
        expectSameTree(await walkVolume(volume), truth, { modes: false, symlinks: false, mtimeSlack: 2 })
        // Names compare case-insensitively, as on Windows.
        expect((await volume.stat('/HELLO.TXT')).size).toBe(16)
        const mdir = await run('mdir', ['-i', image, '-b', '::/many'])
        expect(mdir.trim().split('\n').length).toBe(700)
        await volume.close()
      } finally {
        await file.close()
      }
    })
  }

  it('reads FAT12 (a floppy-sized volume)', async () => {
    const small = join(dir, 'small-src')
    await buildTree(small, { bigDirFiles: 40, depth: 5, largeBytes: 300_000, fragments: 0, symlinks: false, fatSafe: true })
    await rm(join(small, 'sparse.img'))
    const image = join(dir, 'fat12.img')
    await makeFat(image, small, { sizeMiB: 2, fatBits: 12 })
    const file = await FileSource.open(image)
    try {
      const volume = await openVolume(file)
      expect(volume.info.type).toBe('fat12')
      expectSameTree(await walkVolume(volume), await describeTree(small), { modes: false, symlinks: false, mtimeSlack: 2 })
    } finally {
      await file.close()
    }
  })
})
