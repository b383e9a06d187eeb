import { mkdir, open, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { hasTool, run, seededBytes } from '../../../disks/testing/tools'
import { makeCompressedBtrfs, mkfsBtrfs } from '../../btrfs/testing/btrfs-fixtures'
import { canMount, makeExt, makeFat, makeNtfs, makeXfs, placeInto } from '../fixtures'

/** Small real images (made by the real tools) for the fuzzer to corrupt: one per parser and container format. */
export interface CorpusItem {
  readonly name: string
  readonly path: string
}

async function smallTree(root: string, symlinks: boolean): Promise<void> {
  await mkdir(join(root, 'dir', 'sub'), { recursive: true })
  await writeFile(join(root, 'a.txt'), 'hello')
  await writeFile(join(root, 'dir', 'b.txt'), seededBytes(5000, 1))
  await writeFile(join(root, 'dir', 'sub', 'c.bin'), seededBytes(300_000, 2))
  await writeFile(join(root, 'ünïcödé-名前.txt'), 'x')
  await mkdir(join(root, 'many'))
  for (let i = 0; i < 80; i++) await writeFile(join(root, 'many', `f${i}-${'n'.repeat(i % 30)}.txt`), `file ${i}`)
  const frag = await open(join(root, 'frag.bin'), 'w')
  for (let i = 0; i < 40; i++) await frag.write(seededBytes(4096, 10 + i), 0, 4096, i * 12288)
  await frag.close()
  if (symlinks) {
    await symlink('a.txt', join(root, 'link'))
    await symlink('x'.repeat(80), join(root, 'longlink'))
  }
}

export async function buildCorpus(dir: string, options: { xfs?: boolean } = {}): Promise<CorpusItem[]> {
  const posix = join(dir, 'tree-posix')
  const fat = join(dir, 'tree-fat')
  await smallTree(posix, true)
  await smallTree(fat, false)
  const items: CorpusItem[] = []
  const add = (name: string): string => {
    const path = join(dir, name)
    items.push({ name, path })
    return path
  }
  await makeExt(add('ext4.img'), posix, { sizeMiB: 8, kind: 'ext4' })
  await makeExt(add('ext4-inline-1k.img'), posix, { sizeMiB: 8, kind: 'ext4', features: 'inline_data', blockSize: 1024 })
  await makeExt(add('ext2.img'), posix, { sizeMiB: 4, kind: 'ext2', blockSize: 1024 })
  if (canMount) await makeNtfs(add('ntfs.img'), posix, { sizeMiB: 16 })
  await makeFat(add('fat12.img'), fat, { sizeMiB: 2, fatBits: 12 })
  await makeFat(add('fat16.img'), fat, { sizeMiB: 20, fatBits: 16 })
  await makeFat(add('fat32.img'), fat, { sizeMiB: 40, fatBits: 32 })
  if (options.xfs !== false && canMount) await makeXfs(add('xfs.img'), posix, { sizeMiB: 300 })
  if (await hasTool('mkfs.btrfs')) {
    await mkfsBtrfs(add('btrfs.img'), ['-n', '4096', '--rootdir', posix], 128)
    if (canMount) for (const algo of ['zlib', 'lzo', 'zstd'] as const) await makeCompressedBtrfs(add(`btrfs-${algo}.img`), posix, algo, 128)
  }
  const gpt = join(dir, 'gpt.raw')
  await run('truncate', ['-s', '12M', gpt])
  await run('sfdisk', ['-q', gpt], { input: 'label: gpt\nstart=2048, size=9M, type=linux\n' })
  await placeInto(gpt, join(dir, 'ext4-inline-1k.img'), 1024 * 1024)
  const mbr = add('mbr-logical.raw')
  await run('truncate', ['-s', '12M', mbr])
  await run('sfdisk', ['-q', mbr], { input: 'label: dos\n2 : start=2048, size=10M, type=5\n5 : start=4096, size=8M, type=83\n' })
  await placeInto(mbr, join(dir, 'ext4-inline-1k.img'), 4096 * 512)
  await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', '-c', '-o', 'cluster_size=4096', gpt, add('gpt.qcow2')])
  await run('qemu-img', ['convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=dynamic,force_size=on', gpt, add('gpt.vhd')])
  await run('qemu-img', ['convert', '-f', 'raw', '-O', 'vhdx', '-o', 'block_size=1M', gpt, add('gpt.vhdx')])
  items.push({ name: 'gpt.raw', path: gpt })
  return items
}
