import { mkdir, rm, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FileSource } from '../../disks/file-source'
import { hasTool, run, withTempDir } from '../../disks/testing/tools'
import { openVolume } from '../open-volume'

// Found on e2fsprogs 1.47.0's tests/f_bigalloc_symlink_with_xattr image (engine/filesystems/ext/
// public-images-e2fsprogs.test.ts): a fast symlink whose xattr block takes a whole 16 KiB cluster (i_blocks 32)
// was taken for a slow one, its "target block" read from i_block, and the entry left out of the listing.
const haveTools = (await hasTool('mkfs.ext4')) && (await hasTool('debugfs'))

describe.skipIf(!haveTools)('ext bigalloc: a short symlink with an xattr block', () => {
  it('reads the target from the inode when i_blocks holds only the xattr cluster', async () => {
    await withTempDir('ext-bigalloc-symlink', async (dir) => {
      const src = join(dir, 'src')
      await mkdir(src)
      await symlink('target', join(src, 'symlink'))
      const image = join(dir, 'ext.img')
      await run('truncate', ['-s', '64M', image])
      // 128-byte inodes have no room for xattrs inside: debugfs puts this one in a block, i.e. a whole cluster.
      await run('mkfs.ext4', ['-q', '-F', '-b', '1024', '-C', '16384', '-O', 'bigalloc', '-I', '128', '-d', src, image])
      await run('debugfs', ['-w', '-R', 'ea_set /symlink user.note hello', image])
      expect(await run('debugfs', ['-R', 'stat /symlink', image])).toMatch(/Blockcount: 32\b/)
      const file = await FileSource.open(image)
      try {
        const volume = await openVolume(file)
        const entry = (await volume.list('/')).find((e) => e.name === 'symlink')
        expect(entry).toMatchObject({ type: 'symlink', size: 6, symlinkTarget: 'target' })
        await volume.close()
      } finally {
        await file.close()
        await rm(image, { force: true })
      }
    })
  })
})
