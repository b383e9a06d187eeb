import { join } from 'node:path'
import { rm } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FileSource } from '../../disks/file-source'
import { makeTempDir, run } from '../../disks/testing/tools'
import { openVolume } from '../open-volume'
import { expectHolesKnown, expectSameTree, walkVolume } from '../testing/compare'
import { canMount, makeXfs } from '../testing/fixtures'
import { buildTree, describeTree } from '../testing/tree'

let dir: string

beforeAll(async () => {
  dir = await makeTempDir('xfs')
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe.skipIf(!canMount)('XFS v5 against a kernel-written filesystem (needs root for the loop mount)', () => {
  it('reads every file: short-form, block, leaf/node directories, extent lists and B+tree maps', async () => {
    const src = join(dir, 'src')
    // 2000 fragments: far more extents than fit in an inode, so the file's map is a B+tree.
    await buildTree(src, { bigDirFiles: 2500, depth: 30, largeBytes: 24 * 1024 * 1024, fragments: 2000, symlinks: true, fatSafe: false })
    const truth = await describeTree(src)
    const image = join(dir, 'xfs.img')
    await makeXfs(image, src, { sizeMiB: 320, label: 'xfslabel' })
    const formats = await run('xfs_db', ['-r', '-c', 'path /fragmented.bin', '-c', 'print core.format', '-c', 'path /many', '-c', 'print core.format', '-c', 'path /medium', '-c', 'print core.format', '-c', 'path /deep', '-c', 'print core.format', image])
    // fragmented.bin and /many (a node directory whose map overflowed the inode) are B+trees, /medium is a
    // single-block directory, /deep a short-form one.
    expect(formats.match(/core.format = 3 \(btree\)/g)).toHaveLength(2)
    expect(formats).toContain('core.format = 2 (extents)')
    expect(formats).toContain('core.format = 1 (local)')
    const file = await FileSource.open(image)
    try {
      const volume = await openVolume(file)
      expect(volume.info.type).toBe('xfs')
      expect(volume.info.label).toBe('xfslabel')
      expectSameTree(await walkVolume(volume), truth, { modes: true, symlinks: true, mtimeSlack: 0 })
      await expectHolesKnown(volume, '/sparse.img', 1024 * 1024)
      expect((await volume.stat('/hello.txt')).mtime?.toISOString()).toBe('2001-02-03T04:05:06.000Z')
      expect(await volume.readlink('/link-long-target')).toBe('x'.repeat(100))
      await volume.close()
    } finally {
      await file.close()
    }
  })
})
