import { mkdir, rm, truncate } from 'node:fs/promises'
import { run } from '../../disks/testing/tools'

/** Test-only: filesystem images made by the real tools, filled from a source folder. */
const MiB = 1024 * 1024

/** XFS needs a loop mount and NTFS a FUSE mount to be filled: both need root on these machines. */
export const canMount = process.getuid?.() === 0

export async function makeExt(image: string, src: string, options: { sizeMiB: number; kind: 'ext2' | 'ext3' | 'ext4'; features?: string; label?: string; blockSize?: number }): Promise<void> {
  await rm(image, { force: true })
  await run('truncate', ['-s', `${options.sizeMiB}M`, image])
  const args = ['-q', '-F', '-t', options.kind, '-L', options.label ?? 'lifeboat', '-d', src, '-E', 'root_owner=0:0']
  if (options.features) args.push('-O', options.features)
  if (options.blockSize) args.push('-b', String(options.blockSize))
  await run('mkfs.ext4', [...args, image])
  // e2fsck -D builds htree indexes for the large directories that mke2fs -d wrote linearly.
  await run('sh', ['-c', `e2fsck -fyD ${JSON.stringify(image)} >/dev/null 2>&1; test $? -le 1`])
}

/** XFS can only be filled through the kernel: loop-mount, copy, unmount (always, even on failure). */
export async function makeXfs(image: string, src: string, options: { sizeMiB: number; label?: string }): Promise<void> {
  await rm(image, { force: true })
  await run('truncate', ['-s', `${options.sizeMiB}M`, image])
  await run('mkfs.xfs', ['-q', '-f', '-L', options.label ?? 'lifeboat', image])
  await withMount(image, ['-o', 'loop', '-t', 'xfs'], async (mnt) => {
    await run('cp', ['-a', '--sparse=always', `${src}/.`, mnt])
  })
}

export async function makeNtfs(image: string, src: string, options: { sizeMiB: number; label?: string; extra?: (mnt: string) => Promise<void> }): Promise<void> {
  await rm(image, { force: true })
  await run('truncate', ['-s', `${options.sizeMiB}M`, image])
  await run('mkntfs', ['-q', '-F', '-Q', '-L', options.label ?? 'lifeboat', image])
  const mnt = `${image}.mnt`
  await mkdir(mnt, { recursive: true })
  await run('ntfs-3g', ['-o', 'compression', image, mnt])
  try {
    await run('cp', ['-a', '--sparse=always', `${src}/.`, mnt])
    await options.extra?.(mnt)
  } finally {
    await run('umount', [mnt])
    await rm(mnt, { recursive: true, force: true })
  }
}

export async function makeFat(image: string, src: string, options: { sizeMiB: number; fatBits: 12 | 16 | 32; label?: string; offsetSectors?: number }): Promise<void> {
  const offset = options.offsetSectors ?? 0
  if (offset === 0) {
    await rm(image, { force: true })
    await run('truncate', ['-s', `${options.sizeMiB}M`, image])
  }
  const kib = String(options.sizeMiB * 1024 - offset / 2)
  await run('mkfs.vfat', ['-F', String(options.fatBits), '-n', options.label ?? 'LIFEBOAT', ...(offset ? ['--offset', String(offset)] : []), image, ...(offset ? [kib] : [])])
  await run('sh', ['-c', `cd ${JSON.stringify(src)} && LC_ALL=C.UTF-8 mcopy -s -p -m -Q -i ${JSON.stringify(`${image}@@${offset * 512}`)} ./* ::/`])
}

export async function withMount<T>(image: string, args: readonly string[], fn: (mnt: string) => Promise<T>): Promise<T> {
  const mnt = `${image}.mnt`
  await mkdir(mnt, { recursive: true })
  await run('mount', [...args, image, mnt])
  try {
    return await fn(mnt)
  } finally {
    await run('umount', [mnt])
    await rm(mnt, { recursive: true, force: true })
  }
}

export async function growTo(image: string, bytes: number): Promise<void> {
  await truncate(image, bytes)
}

export { MiB }

/** Copies a filesystem image into a disk image at a byte offset (like dd conv=notrunc). */
export async function placeInto(disk: string, image: string, offset: number): Promise<void> {
  const { open } = await import('node:fs/promises')
  const src = await open(image, 'r')
  const dst = await open(disk, 'r+')
  try {
    const buf = Buffer.allocUnsafe(4 * MiB)
    for (let at = 0; ; ) {
      const { bytesRead } = await src.read(buf, 0, buf.length, at)
      if (bytesRead === 0) break
      await dst.write(buf, 0, bytesRead, offset + at)
      at += bytesRead
    }
  } finally {
    await src.close()
    await dst.close()
  }
}
