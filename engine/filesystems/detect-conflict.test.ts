import { open, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toTreeDto } from '../browse/dto'
import { hasTool, makeTempDir, run } from '../disks/testing/tools'
import { openImage } from './browse'
import { expectSameTree, walkVolume } from './testing/compare'
import { MiB, placeInto } from './testing/fixtures'
import { buildTree, describeTree, type TreeItem } from './testing/tree'

/**
 * A partition reformatted ext2 over an old NTFS without wipefs. mke2fs 1.47 clears the first KiB itself, so the
 * NTFS boot sector other formatters leave behind (the case reported) is put back from the NTFS image by hand;
 * blkid -p on the same bytes is the referee.
 */
const haveTools = (await hasTool('mkntfs')) && (await hasTool('mkfs.ext2')) && (await hasTool('blkid')) && (await hasTool('sfdisk'))

let dir: string
let src: string
let truth: Map<string, TreeItem>
let ntfs: Buffer

async function overwrite(image: string, at: number, bytes: Buffer): Promise<void> {
  const fh = await open(image, 'r+')
  try {
    await fh.write(bytes, 0, bytes.length, at)
  } finally {
    await fh.close()
  }
}

/** An ext2 made over an NTFS in the same 64 MiB, with the NTFS boot sector back at byte 0. */
async function ext2OverNtfs(name: string): Promise<string> {
  const image = join(dir, name)
  await run('truncate', ['-s', '64M', image])
  await run('mkntfs', ['-q', '-F', '-Q', '-L', 'OldWindows', image])
  ntfs = await readFile(image)
  await run('mkfs.ext2', ['-q', '-F', '-E', 'nodiscard', '-L', 'newlinux', '-d', src, image])
  await overwrite(image, 0, ntfs.subarray(0, 512))
  return image
}

/** Where the NTFS boot sector says $MFT is: LCN × sectors per cluster × bytes per sector. */
function mftOffset(boot: Buffer): number {
  return Number(boot.readBigUInt64LE(0x30)) * (boot[13] ?? 0) * boot.readUInt16LE(11)
}

async function blkidType(image: string): Promise<string> {
  return run('blkid', ['-p', '-o', 'value', '-s', 'TYPE', image]).then(
    (out) => out.trim(),
    (e: unknown) => `failed: ${e instanceof Error ? e.message : String(e)}`,
  )
}

beforeAll(async () => {
  if (!haveTools) return
  dir = await makeTempDir('detect-conflict')
  src = join(dir, 'src')
  await buildTree(src, { bigDirFiles: 50, depth: 4, largeBytes: 2 * MiB, fragments: 0, symlinks: true, fatSafe: false })
  truth = await describeTree(src)
})
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true })
})

describe.skipIf(!haveTools)('two filesystems signatures on one volume', () => {
  it('shows the ext2 written over an old NTFS whose $MFT is gone, and says the NTFS was set aside', async () => {
    const image = await ext2OverNtfs('stale-ntfs.img')
    const head = (await readFile(image)).subarray(0, 1024)
    expect(head.toString('latin1', 3, 11)).toBe('NTFS    ')
    expect(await blkidType(image)).toBe('ext2')
    // As a partition of an MBR disk too.
    const disk = join(dir, 'stale-ntfs-disk.raw')
    await run('truncate', ['-s', '80M', disk])
    await run('sfdisk', ['-q', disk], { input: 'label: dos\n1 : start=2048, size=64M, type=7\n' })
    await placeInto(disk, image, MiB)
    for (const [path, locator] of [[image, 'disk'], [disk, 'p1']] as const) {
      const opened = await openImage(path)
      try {
        const node = opened.volumeNode()
        expect(node).toMatchObject({ locator, content: 'ext', filesystem: { type: 'ext2', label: 'newlinux' } })
        expect(node.filesystem?.warnings.join(' ')).toMatch(/An old NTFS \(boot sector at byte 0, \$MFT at byte \d+\) is also on this volume; it was ignored because no MFT record is at its \$MFT/)
        expectSameTree(await walkVolume(await opened.openVolume()), truth, { modes: true, symlinks: true, mtimeSlack: 0, ignore: ['/lost+found'] })
      } finally {
        await opened.close()
      }
    }
  })

  it('shows an NTFS whose old ext2 superblock was put back at byte 1024, the ext2 set aside (mkntfs cleared its descriptors)', async () => {
    const image = join(dir, 'stale-ext.img')
    await run('truncate', ['-s', '64M', image])
    await run('mkfs.ext2', ['-q', '-F', '-L', 'oldlinux', image])
    const superblock = (await readFile(image)).subarray(1024, 2048)
    await run('mkntfs', ['-q', '-F', '-Q', '-L', 'NewWindows', image])
    await overwrite(image, 1024, superblock)
    // blkid checks only the ext superblock and refuses; its descriptors are zeros, so this ext2 cannot be read at all.
    expect(await blkidType(image)).toMatch(/^failed: .*ambivalent result/s)
    const opened = await openImage(image)
    try {
      const node = opened.volumeNode()
      expect(node).toMatchObject({ locator: 'disk', content: 'ntfs', filesystem: { type: 'ntfs', label: 'NewWindows' } })
      expect(node.filesystem?.warnings.join(' ')).toMatch(/An old ext2 "oldlinux" \(superblock at byte 1024\) is also on this volume; it was ignored because its first group descriptor/)
      expect((await (await opened.openVolume()).list('/')).map((e) => e.name)).toEqual([])
    } finally {
      await opened.close()
    }
  })

  it('refuses to guess when both the ext2 and the old NTFS hold up, naming both (probe, image info, open)', async () => {
    const image = await ext2OverNtfs('both-intact.img')
    // The old NTFS's first MFT records back where ext2 keeps blocks it does not read (reserved descriptor blocks).
    const at = mftOffset(ntfs)
    await overwrite(image, at, ntfs.subarray(at, at + 4096))
    expect(await blkidType(image)).toMatch(/^failed: .*ambivalent result/s)
    const opened = await openImage(image)
    try {
      const [node] = opened.tree.volumes
      const named = /two filesystems' signatures that both look intact: ext2 "newlinux" \(superblock at byte 1024\) and NTFS \(boot sector at byte 0, \$MFT at byte \d+\)\. .*will not guess/
      expect(node).toMatchObject({ locator: 'disk', content: 'ambiguous' })
      expect(node?.filesystem).toBeUndefined()
      expect(node?.problem).toMatch(named)
      // What the UI and `lifeboat image info` print: CONTENT column and NOTE column.
      const dto = toTreeDto(opened.tree, opened.images).volumes[0]
      expect(dto?.content).toBe('ambiguous')
      expect(dto?.problem).toMatch(named)
      expect(() => opened.volumeNode()).toThrow(named)
      await expect(opened.openVolume('disk')).rejects.toThrow(named)
    } finally {
      await opened.close()
    }
  })
})
