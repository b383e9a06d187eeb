import { link, mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FileSource } from '../../disks/file-source'
import { hasTool, makeTempDir, run, seededBytes } from '../../disks/testing/tools'
import { openVolume } from '../open-volume'
import { expectHolesKnown, expectSameTree, walkVolume } from '../testing/compare'
import { canMount, withMount } from '../testing/fixtures'
import { buildTree, describeTree, type TreeItem } from '../testing/tree'
import { VolumeReader } from '../volume-reader'
import { BtrfsDriver } from './btrfs-driver'
import { compressibleText, mkfsBtrfs } from './testing/btrfs-fixtures'
import { listSubvolumes } from './btrfs-subvolumes'

const haveMkfs = (await hasTool('mkfs.btrfs')) && (await hasTool('btrfs')) && (await hasTool('btrfs-map-logical'))
let dir: string

beforeAll(async () => {
  dir = await makeTempDir('btrfs')
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe.skipIf(!haveMkfs)('btrfs made by mkfs.btrfs --rootdir', () => {
  it('reads every folder, file, symlink and hard link of the source tree (4 KiB nodes: multi-level trees; DUP data)', async () => {
    const src = join(dir, 'src-rootdir')
    await buildTree(src, { bigDirFiles: 1500, depth: 40, largeBytes: 6 * 1024 * 1024, fragments: 300, symlinks: true, fatSafe: false })
    await link(join(src, 'hello.txt'), join(src, 'hard-hello.txt'))
    const truth = await describeTree(src)
    const image = join(dir, 'rootdir.btrfs')
    await mkfsBtrfs(image, ['-L', 'btrlabel', '-n', '4096', '-m', 'dup', '-d', 'dup', '--rootdir', src], 400)
    expect(await run('btrfs', ['inspect-internal', 'dump-tree', '-t', '5', image])).toMatch(/^node \d+ level [1-7] /m)
    const file = await FileSource.open(image)
    try {
      const volume = await openVolume(file)
      expect(volume.info.type).toBe('btrfs')
      expect(volume.info.label).toBe('btrlabel')
      expectSameTree(await walkVolume(volume), truth, { modes: true, symlinks: true, mtimeSlack: 0 })
      // mkfs.btrfs 6.2 --rootdir writes holes out as zeros: holes are checked on the kernel-written images below.
      expect((await volume.stat('/hello.txt')).mtime?.toISOString()).toBe('2001-02-03T04:05:06.000Z')
      const [a, b] = [await volume.stat('/hello.txt'), await volume.stat('/hard-hello.txt')]
      expect({ same: a.id === b.id, nlink: a.nlink }).toEqual({ same: true, nlink: 2 })
      expect(await volume.readlink('/link-long-target')).toBe('x'.repeat(100))
      const chunks: Buffer[] = []
      for await (const c of volume.readFile('/large.bin', { start: 4_000_001, end: 4_100_003 })) chunks.push(c)
      expect(Buffer.concat(chunks).equals(seededBytes(6 * 1024 * 1024, 12).subarray(4_000_001, 4_100_003))).toBe(true)
      await volume.close()
    } finally {
      await file.close()
    }
  })

  it('refuses other checksum types and multi-device filesystems, naming what it found', async () => {
    const src = join(dir, 'src-small')
    await mkdir(src, { recursive: true })
    await writeFile(join(src, 'a.txt'), 'a')
    const xx = join(dir, 'xxhash.btrfs')
    await mkfsBtrfs(xx, ['--csum', 'xxhash', '--rootdir', src])
    const second = join(dir, 'second.btrfs')
    await run('truncate', ['-s', '200M', second])
    const multi = join(dir, 'multi.btrfs')
    await run('truncate', ['-s', '200M', multi])
    await run('mkfs.btrfs', ['-q', '-f', '-d', 'single', '-m', 'single', multi, second])
    for (const [image, message] of [
      [xx, /uses xxhash64 checksums; only crc32c is supported/],
      [multi, /spans 2 devices; only single-device btrfs can be read/],
    ] as const) {
      const file = await FileSource.open(image)
      try {
        await expect(openVolume(file)).rejects.toThrow(message)
      } finally {
        await file.close()
      }
    }
  })

  it('reads tree blocks from the second DUP copy when the first is damaged', async () => {
    const src = join(dir, 'src-dup')
    await mkdir(src, { recursive: true })
    await writeFile(join(src, 'a.txt'), compressibleText(50, 3))
    const image = join(dir, 'dup.btrfs')
    await mkfsBtrfs(image, ['-m', 'dup', '--rootdir', src])
    // The FS tree's root block: damage every byte of its first copy.
    const dump = await run('btrfs', ['inspect-internal', 'dump-tree', '-t', '5', image])
    const bytenr = Number(/^(?:leaf|node) (\d+)/m.exec(dump)?.[1])
    const map = await run('btrfs-map-logical', ['-l', String(bytenr), image])
    const physical = Number(/mirror 1 logical \d+ physical (\d+)/.exec(map)?.[1])
    expect(physical).toBeGreaterThan(0)
    await run('dd', ['if=/dev/zero', `of=${image}`, 'bs=4096', `seek=${physical / 4096}`, 'count=4', 'conv=notrunc', 'status=none'])
    const file = await FileSource.open(image)
    try {
      const volume = await openVolume(file)
      const chunks: Buffer[] = []
      for await (const c of volume.readFile('/a.txt')) chunks.push(c)
      expect(Buffer.concat(chunks).toString()).toBe(compressibleText(50, 3))
      await volume.close()
    } finally {
      await file.close()
    }
  })
})

describe.skipIf(!haveMkfs || !canMount)('btrfs written by the kernel (needs root for the loop mount)', () => {
  for (const [algo, code] of [
    ['zlib', 1],
    ['lzo', 2],
    ['zstd', 3],
  ] as const) {
    it(`reads ${algo}-compressed extents (regular and inline), subvolumes, snapshots and reflinks`, async () => {
      const image = join(dir, `${algo}.btrfs`)
      await mkfsBtrfs(image, ['-L', algo], 300)
      let truth = new Map<string, TreeItem>()
      let listed = ''
      await withMount(image, ['-o', `loop,compress-force=${algo}`], async (mnt) => {
        await buildTree(join(mnt, 'tree'), { bigDirFiles: 300, depth: 12, largeBytes: 2 * 1024 * 1024, fragments: 60, symlinks: true, fatSafe: false })
        await writeFile(join(mnt, 'text.txt'), compressibleText(60_000, 7))
        await writeFile(join(mnt, 'inline.txt'), compressibleText(25, 8).slice(0, 1800))
        // Every 4 KiB of noise repeated: each 128 KiB extent compresses, but not to nothing.
        await writeFile(join(mnt, 'mixed.bin'), Buffer.concat(Array.from({ length: 200 }, (_, i) => Buffer.concat([seededBytes(2048, i), seededBytes(2048, i)]))))
        await link(join(mnt, 'text.txt'), join(mnt, 'text-hardlink.txt'))
        await run('btrfs', ['subvolume', 'create', join(mnt, 'sub')])
        await writeFile(join(mnt, 'sub', 'in-sub.txt'), compressibleText(5000, 9))
        await run('cp', ['--reflink=always', join(mnt, 'text.txt'), join(mnt, 'sub', 'reflink.txt')])
        // Snapshots do not recurse: the snapshot of sub shows inner as an empty folder.
        await run('btrfs', ['subvolume', 'create', join(mnt, 'sub', 'inner')])
        await writeFile(join(mnt, 'sub', 'inner', 'i.txt'), 'inner')
        await mkdir(join(mnt, 'dir'))
        await run('btrfs', ['subvolume', 'create', join(mnt, 'dir', 'nested')])
        await writeFile(join(mnt, 'dir', 'nested', 'n.txt'), compressibleText(300, 10))
        await run('btrfs', ['subvolume', 'snapshot', join(mnt, 'sub'), join(mnt, 'snap')])
        // After the snapshot: the snapshot keeps the old bytes, the subvolume gets the new ones.
        await writeFile(join(mnt, 'sub', 'in-sub.txt'), compressibleText(5100, 11))
        // Overwriting the middle of a compressed extent leaves items pointing into it at an offset; a preallocated
        // file with one written block has prealloc extents (zeros) around a regular one.
        await run('dd', ['if=/dev/urandom', `of=${join(mnt, 'text.txt')}`, 'bs=1000', 'seek=77', 'count=3', 'conv=notrunc', 'status=none'])
        await run('fallocate', ['-l', '1M', join(mnt, 'prealloc.bin')])
        await run('dd', ['if=/dev/urandom', `of=${join(mnt, 'prealloc.bin')}`, 'bs=4096', 'seek=100', 'count=1', 'conv=notrunc', 'status=none'])
        await run('btrfs', ['subvolume', 'set-default', join(mnt, 'sub')])
        listed = await run('btrfs', ['subvolume', 'list', mnt])
        await run('sync', [])
        truth = await describeTree(mnt)
      })
      const dump = await run('btrfs', ['inspect-internal', 'dump-tree', image])
      expect(dump).toMatch(new RegExp(`type 1 \\(regular\\)[\\s\\S]*?compression ${code} \\(${algo}\\)`))
      expect(dump).toMatch(/type 2 \(prealloc\)/)
      expect(dump).toMatch(/extent data offset [1-9]\d* nr \d+ ram 131072\n\s+extent compression [1-3]/)
      expect(dump).toMatch(new RegExp(`inline extent data size \\d+ ram_bytes \\d+ compression ${code} \\(${algo}\\)`))
      const file = await FileSource.open(image)
      try {
        const volume = await openVolume(file)
        expectSameTree(await walkVolume(volume), truth, { modes: true, symlinks: true, mtimeSlack: 0 })
        await expectHolesKnown(volume, '/tree/sparse.img', 1024 * 1024)
        expect(volume.info.warnings.join('\n')).toContain('subvolume /sub')
        await volume.close()
        const driver = await BtrfsDriver.open(new VolumeReader(file))
        const subvolumes = (await listSubvolumes(driver)).map((s) => `ID ${s.id} top level ${s.parent} path ${s.path.slice(1)}`)
        expect(subvolumes.sort()).toEqual(listed.trim().split('\n').map((l) => l.replace(/ gen \d+/, '')).sort())
        await driver.close()
      } finally {
        await file.close()
      }
    })
  }
})
