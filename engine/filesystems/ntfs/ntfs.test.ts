import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FileSource } from '../../disks/file-source'
import { makeTempDir, run, runBuffer } from '../../disks/testing/tools'
import { openVolume } from '../open-volume'
import { expectHolesKnown, expectSameTree, walkVolume } from '../testing/compare'
import { canMount, makeNtfs } from '../testing/fixtures'
import { buildTree, describeTree } from '../testing/tree'

let dir: string

beforeAll(async () => {
  dir = await makeTempDir('ntfs')
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function readAll(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const b of it) parts.push(b)
  return Buffer.concat(parts)
}

describe.skipIf(!canMount)('NTFS against ntfs-3g and ntfscat (needs root for the FUSE mount)', { timeout: 240_000 }, () => {
  it('reads every file, long and Unicode names, sparse, compressed and fragmented files, and streams', async () => {
    const src = join(dir, 'src')
    await buildTree(src, { bigDirFiles: 1500, depth: 30, largeBytes: 24 * 1024 * 1024, fragments: 3000, symlinks: false, fatSafe: false })
    const truth = await describeTree(src)
    const compressedText = Buffer.from('lifeboat compress me '.repeat(40_000))
    const image = join(dir, 'ntfs.img')
    await makeNtfs(image, src, {
      sizeMiB: 400,
      label: 'NTFS Label é',
      extra: async (mnt) => {
        // ntfs-3g compresses new files in a folder marked compressed (mount option "compression"), and stores
        // user.* extended attributes as named data streams.
        await mkdir(join(mnt, 'compressed'))
        await run('python3', ['-c', `import os; os.setxattr(${JSON.stringify(join(mnt, 'compressed'))}, 'system.ntfs_attrib_be', (0x810).to_bytes(4, 'big'))`])
        await writeFile(join(mnt, 'compressed', 'text.txt'), compressedText)
        await run('python3', ['-c', `import os; os.setxattr(${JSON.stringify(join(mnt, 'hello.txt'))}, 'user.Zone.Identifier', b'[ZoneTransfer]\\r\\nZoneId=3')`])
        await run('ln', ['-s', 'hello.txt', join(mnt, 'interix-link')])
      },
    })
    const info = await run('ntfsinfo', ['-F', '/compressed/text.txt', image])
    expect(info).toContain('COMPRESSED')
    const frag = await run('ntfsinfo', ['-F', '/fragmented.bin', image])
    expect(frag).toContain('$ATTRIBUTE_LIST')
    const file = await FileSource.open(image)
    try {
      const volume = await openVolume(file)
      expect(volume.info.type).toBe('ntfs')
      expect(volume.info.label).toBe('NTFS Label é')
      const walked = await walkVolume(volume)
      walked.delete('/compressed')
      walked.delete('/compressed/text.txt')
      walked.delete('/interix-link')
      expectSameTree(walked, truth, { modes: false, symlinks: false, mtimeSlack: 0 })
      await expectHolesKnown(volume, '/sparse.img', 1024 * 1024)
      const text = await readAll(volume.readFile('/compressed/text.txt'))
      expect(text.equals(compressedText)).toBe(true)
      const truthCat = await runBuffer('ntfscat', [image, '/compressed/text.txt'])
      expect(createHash('sha256').update(text).digest('hex')).toBe(createHash('sha256').update(truthCat).digest('hex'))
      const middle = await readAll(volume.readFile('/compressed/text.txt', { start: 70_000, end: 200_001 }))
      expect(middle.equals(compressedText.subarray(70_000, 200_001))).toBe(true)
      const hello = await volume.stat('/HELLO.TXT')
      expect(hello.streams).toEqual([{ name: 'Zone.Identifier', size: 24 }])
      expect((await readAll(volume.readFile('/hello.txt', { stream: 'Zone.Identifier' }))).toString()).toBe('[ZoneTransfer]\r\nZoneId=3')
      const link = await volume.stat('/interix-link')
      expect(link).toMatchObject({ type: 'symlink', symlinkTarget: 'hello.txt' })
      const ntfsls = await run('ntfsls', ['-f', image, '-p', '/many'])
      expect(ntfsls.split('\n').filter((l) => l.startsWith('file-')).length).toBe(1500)
      await volume.close()
    } finally {
      await file.close()
    }
  })
})
