import { createHash } from 'node:crypto'
import { lstat, mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FileSource } from '../../disks/file-source'
import { hasTool, makeTempDir, run, seededBytes } from '../../disks/testing/tools'
import { openVolume } from '../open-volume'
import { extractTo } from './extract'
import { PART_MARK } from './sparse-writer'

/**
 * Restores from a damaged ext4 must salvage like `debugfs rdump` and `tsk_recover`: what cannot be read is skipped
 * with its reason, everything else is restored byte for byte, and no partly written file is left. The damage is
 * done by debugfs on an image mkfs.ext4 -d made: a symlink whose length reads 4 GiB + 3 (the real-world report), a
 * file whose extent points far outside the volume, and a folder whose only block does.
 */
const haveTools = (await hasTool('mkfs.ext4')) && (await hasTool('debugfs'))

let dir: string
beforeAll(async () => {
  dir = await makeTempDir('salvage')
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

/** Every regular file and link below `root`, relative path → content hash or link target. */
async function tree(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  const visit = async (at: string): Promise<void> => {
    for (const name of await readdir(at)) {
      const p = join(at, name)
      const st = await lstat(p)
      if (st.isDirectory()) await visit(p)
      else out.set(relative(root, p), st.isSymbolicLink() ? `-> ${await readlink(p)}` : sha(await readFile(p)))
    }
  }
  await visit(root)
  return out
}

describe.skipIf(!haveTools)('restoring a folder of a damaged ext4', () => {
  it('skips each unreadable entry with its reason and restores all the others exactly', async () => {
    const src = join(dir, 'src')
    await mkdir(join(src, 'dir', 'sub'), { recursive: true })
    await mkdir(join(src, 'dir', 'broken-folder'))
    for (let i = 1; i <= 6; i++) await writeFile(join(src, 'dir', `f${i}.bin`), seededBytes(i * 7000, i))
    await writeFile(join(src, 'dir', 'sub', 'a.txt'), 'hello\n')
    await writeFile(join(src, 'dir', 'sub', 'big.bin'), seededBytes(300_000, 42))
    await writeFile(join(src, 'dir', 'broken-folder', 'lost.txt'), 'lost\n')
    await symlink('f1.bin', join(src, 'dir', 'a-link'))
    await symlink('sub/a.txt', join(src, 'dir', 'z-link'))
    const image = join(dir, 'damaged.img')
    await run('mkfs.ext4', ['-q', '-F', '-b', '1024', '-d', src, image, '8M'])
    const damage = async (request: string): Promise<void> => {
      await run('debugfs', ['-w', '-R', request, image])
    }
    // i_size 4294967299 (size_high 1, size 3): "symlink inode N is 4294967299 bytes long".
    await damage('sif /dir/a-link size 4294967299')
    // The first extent's start block (i_block[5], ee_start_lo) far outside the 8 MiB volume.
    await damage('sif /dir/f3.bin block[5] 2000000000')
    await damage('sif /dir/broken-folder block[5] 2000000000')

    const file = await FileSource.open(image)
    const out = join(dir, 'out')
    try {
      const volume = await openVolume(file)
      const report = await extractTo(volume, '/dir', out)
      const reasons = new Map(report.skipped.map((s) => [s.path, s.reason]))
      expect([...reasons.keys()].sort()).toEqual(['/dir/a-link', '/dir/broken-folder', '/dir/f3.bin'])
      expect(reasons.get('/dir/a-link')).toContain('4294967299 bytes long')
      expect(reasons.get('/dir/f3.bin')).toMatch(/outside the volume.*nothing of it was kept/)
      expect(reasons.get('/dir/broken-folder')).toMatch(/could not be read.*contents are missing/)
      expect(report).toMatchObject({ files: 7, symlinks: 1 })
      await volume.close()
    } finally {
      await file.close()
    }
    const restored = await tree(join(out, 'dir'))
    const expected = await tree(join(src, 'dir'))
    for (const gone of ['a-link', 'f3.bin', join('broken-folder', 'lost.txt')]) expected.delete(gone)
    expect(restored).toEqual(expected)
    expect([...restored.keys()].filter((p) => p.includes(PART_MARK))).toEqual([])
  })
})
