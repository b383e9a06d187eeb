import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { run } from '../../../disks/testing/tools'
import { withMount } from '../../testing/fixtures'

/** Test-only: btrfs images made by the real tools. */

/** Text that compresses well, so compress-force really stores compressed extents. */
export function compressibleText(lines: number, seed: number): string {
  return Array.from({ length: lines }, (_, i) => `line ${i} of file ${seed}: the quick brown fox ${(i * seed) % 97}\n`).join('')
}

export async function mkfsBtrfs(image: string, args: readonly string[], sizeMiB = 200): Promise<void> {
  await rm(image, { force: true })
  await run('truncate', ['-s', `${sizeMiB}M`, image])
  await run('mkfs.btrfs', ['-q', '-f', ...args, image])
}

/**
 * btrfs-progs before 6.11 cannot compress with --rootdir, so compressed images are written by the kernel: loop-mount
 * with compress-force, copy the tree plus compressible text (regular and inline extents), unmount (always).
 */
export async function makeCompressedBtrfs(image: string, src: string, algo: 'zlib' | 'lzo' | 'zstd', sizeMiB = 200): Promise<void> {
  await mkfsBtrfs(image, ['-L', algo], sizeMiB)
  await withMount(image, ['-o', `loop,compress-force=${algo}`], async (mnt) => {
    await run('cp', ['-a', '--sparse=always', `${src}/.`, mnt])
    await writeFile(join(mnt, 'text.txt'), compressibleText(8000, 5))
    await writeFile(join(mnt, 'inline.txt'), compressibleText(25, 6).slice(0, 1500))
  })
}
