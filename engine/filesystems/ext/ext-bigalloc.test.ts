import { join } from 'node:path'
import { rm } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FileSource } from '../../disks/file-source'
import { hasTool, makeTempDir, run } from '../../disks/testing/tools'
import { openVolume } from '../open-volume'
import { expectHolesKnown, expectSameTree, walkVolume } from '../testing/compare'
import { buildTree, describeTree, type TreeItem } from '../testing/tree'

/**
 * bigalloc: the block bitmap counts clusters of 2^n blocks, s_blocks_per_group is clusters per group × n, and
 * s_first_data_block is 0 even with 1 KiB blocks. Extents still count blocks, and several files' islands share
 * no cluster but one file's fragments (4 KiB every 16 KiB) share 64 KiB clusters, leaving unmapped blocks inside them.
 */
const haveTools = (await hasTool('mkfs.ext4')) && (await hasTool('e2fsck')) && (await hasTool('dumpe2fs'))

let dir: string
let src: string
let truth: Map<string, TreeItem>

beforeAll(async () => {
  if (!haveTools) return
  dir = await makeTempDir('ext-bigalloc')
  src = join(dir, 'src')
  await buildTree(src, { bigDirFiles: 600, depth: 12, largeBytes: 6 * 1024 * 1024, fragments: 300, symlinks: true, fatSafe: false })
  truth = await describeTree(src)
})
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true })
})

// -g counts clusters under bigalloc. Both make more blocks per group than a block has bits (what the old check
// refused), and 4 groups of 512 inodes put files in more than one group.
const variants = [
  { name: '1 KiB blocks, 64 KiB clusters', args: ['-b', '1024', '-C', '65536', '-g', '1024'], size: '256M', blocksPerGroup: 65536, clustersPerGroup: 1024 },
  { name: '4 KiB blocks, 16 KiB clusters', args: ['-b', '4096', '-C', '16384', '-g', '16384'], size: '1G', blocksPerGroup: 65536, clustersPerGroup: 16384 },
]

describe.skipIf(!haveTools)('ext4 with bigalloc (clusters larger than blocks), made by mkfs.ext4 -d', () => {
  for (const v of variants) {
    it(`reads every file byte-exact with ${v.name}`, async () => {
      const image = join(dir, `bigalloc-${v.clustersPerGroup}.img`)
      await run('mkfs.ext4', ['-q', '-F', '-O', 'bigalloc', ...v.args, '-N', '2048', '-L', 'bigalloc', '-d', src, '-E', 'root_owner=0:0', image, v.size])
      // The geometry this test is about, and the image is clean by e2fsck's standard (exit 0: no changes).
      const header = await run('dumpe2fs', ['-h', image])
      expect(header).toMatch(new RegExp(`Blocks per group:\\s+${v.blocksPerGroup}\\n`))
      expect(header).toMatch(new RegExp(`Clusters per group:\\s+${v.clustersPerGroup}\\n`))
      expect(header).toMatch(/Inodes per group:\s+512\n/)
      await run('e2fsck', ['-fn', image])
      const file = await FileSource.open(image)
      try {
        const volume = await openVolume(file)
        expect(volume.info.type).toBe('ext4')
        expect(volume.info.label).toBe('bigalloc')
        expectSameTree(await walkVolume(volume), truth, { modes: true, symlinks: true, mtimeSlack: 0, ignore: ['/lost+found'] })
        await expectHolesKnown(volume, '/sparse.img', 1024 * 1024)
        await volume.close()
      } finally {
        await file.close()
      }
    })
  }
})
