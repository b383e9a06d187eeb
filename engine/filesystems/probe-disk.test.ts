import { open, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeTempDir, run } from '../disks/testing/tools'
import { openImage } from './browse'
import { expectSameTree, walkVolume } from './testing/compare'
import { MiB, makeExt, makeFat, makeNtfs, placeInto } from './testing/fixtures'
import { buildTree, describeTree, type TreeItem } from './testing/tree'

let dir: string
let src: string
let truth: Map<string, TreeItem>
let gptDisk: string
let mbrDisk: string

const compare = { modes: false, symlinks: false, mtimeSlack: 2, ignore: ['/lost+found'] }

beforeAll(async () => {
  dir = await makeTempDir('probe')
  src = join(dir, 'src')
  await buildTree(src, { bigDirFiles: 120, depth: 6, largeBytes: 3 * MiB, fragments: 0, symlinks: false, fatSafe: true })
  truth = await describeTree(src)
  await makeFat(join(dir, 'fat.img'), src, { sizeMiB: 100, fatBits: 32, label: 'EFIFAT' })
  await makeExt(join(dir, 'ext.img'), src, { sizeMiB: 100, kind: 'ext4', label: 'rootfs' })
  await makeNtfs(join(dir, 'ntfs.img'), src, { sizeMiB: 100, label: 'WinData' })
  gptDisk = join(dir, 'gpt.raw')
  await run('truncate', ['-s', '310M', gptDisk])
  await run('sfdisk', ['-q', gptDisk], { input: 'label: gpt\nstart=2048, size=100M, type=uefi, name="EFI system"\nsize=100M, type=linux, name="root"\nsize=100M, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name="data"\n' })
  await placeInto(gptDisk, join(dir, 'fat.img'), MiB)
  await placeInto(gptDisk, join(dir, 'ext.img'), 101 * MiB)
  await placeInto(gptDisk, join(dir, 'ntfs.img'), 201 * MiB)
  mbrDisk = join(dir, 'mbr.raw')
  await run('truncate', ['-s', '320M', mbrDisk])
  await run('sfdisk', ['-q', mbrDisk], { input: 'label: dos\n1 : start=2048, size=100M, type=c\n2 : start=206848, size=210M, type=5\n5 : start=208896, size=100M, type=83\n6 : start=415744, size=100M, type=7\n' })
  const layout = JSON.parse(await run('sfdisk', ['-J', mbrDisk])) as { partitiontable: { partitions: { node: string; start: number }[] } }
  const start = (n: string): number => (layout.partitiontable.partitions.find((p) => p.node.endsWith(n))?.start ?? 0) * 512
  await placeInto(mbrDisk, join(dir, 'fat.img'), start('1'))
  await placeInto(mbrDisk, join(dir, 'ext.img'), start('5'))
  await placeInto(mbrDisk, join(dir, 'ntfs.img'), start('6'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function checkAll(image: string, expected: Record<string, string>): Promise<void> {
  const opened = await openImage(image)
  try {
    const found = Object.fromEntries(opened.tree.volumes.filter((v) => v.filesystem).map((v) => [v.locator, v.filesystem?.type]))
    expect(found).toEqual(expected)
    for (const locator of Object.keys(expected)) {
      const volume = await opened.openVolume(locator)
      expectSameTree(await walkVolume(volume), truth, compare)
    }
  } finally {
    await opened.close()
  }
}

describe('partition tables × image formats', () => {
  const formats: [string, string[]][] = [
    ['raw', []],
    ['vhd', ['-O', 'vpc', '-o', 'subformat=dynamic,force_size=on']],
    ['vhdx', ['-O', 'vhdx']],
    ['qcow2', ['-O', 'qcow2', '-c']],
  ]
  for (const [name, args] of formats) {
    it(`finds and reads GPT partitions (FAT32, ext4, NTFS) in a ${name} image`, async () => {
      const path = name === 'raw' ? gptDisk : join(dir, `gpt.${name}`)
      if (name !== 'raw') await run('qemu-img', ['convert', '-f', 'raw', ...args, gptDisk, path])
      await checkAll(path, { p1: 'fat32', p2: 'ext4', p3: 'ntfs' })
    })
  }

  it('reads MBR primary and logical partitions, by number and by label', async () => {
    await checkAll(mbrDisk, { p1: 'fat32', p5: 'ext4', p6: 'ntfs' })
    const opened = await openImage(mbrDisk)
    try {
      expect(opened.volumeNode('rootfs').locator).toBe('p5')
      expect(opened.volumeNode('6').locator).toBe('p6')
      expect(() => opened.volumeNode()).toThrow(/Several filesystems/)
      expect(() => opened.volumeNode('p9')).toThrow(/No volume "p9"/)
    } finally {
      await opened.close()
    }
  })

  it('falls back to the backup GPT when the primary header is damaged', async () => {
    const damaged = join(dir, 'gpt-damaged.raw')
    await run('cp', ['--sparse=always', gptDisk, damaged])
    const fh = await open(damaged, 'r+')
    await fh.write(Buffer.alloc(512, 0x41), 0, 512, 512)
    await fh.close()
    const opened = await openImage(damaged)
    try {
      expect(opened.tree.disks[0]?.table?.warnings.join(' ')).toMatch(/backup/)
      expect(opened.tree.volumes.map((v) => v.filesystem?.type)).toEqual(['fat32', 'ext4', 'ntfs'])
    } finally {
      await opened.close()
    }
  })

  it('reads a whole-disk filesystem without a partition table', async () => {
    const opened = await openImage(join(dir, 'ext.img'))
    try {
      expect(opened.volumeNode().locator).toBe('disk')
      const v = await opened.openVolume()
      expect(v.info.label).toBe('rootfs')
    } finally {
      await opened.close()
    }
  })

  it('reports damaged and unknown volumes instead of failing the whole disk', async () => {
    const junk = join(dir, 'junk.raw')
    await writeFile(junk, Buffer.alloc(4 * MiB, 0x5a))
    const opened = await openImage(junk)
    try {
      expect(opened.tree.volumes).toMatchObject([{ locator: 'disk', content: 'unknown' }])
      expect(() => opened.volumeNode()).toThrow(/No browsable filesystem/)
    } finally {
      await opened.close()
    }
  })
})
