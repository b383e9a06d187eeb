import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { lstat, mkdir, readdir, readFile, readlink, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FileSource } from '../../disks/file-source'
import { hasTool, makeTempDir, run, seededBytes } from '../../disks/testing/tools'
import { openVolume } from '../open-volume'
import { canMount, makeExt, MiB } from '../testing/fixtures'
import type { Volume } from '../types'
import { extractTo } from './extract'
import { tarStream } from './tar-stream'

/** Images a hostile guest could leave behind, made with mkfs.ext4 -d, debugfs, mkfs.vfat and mtools. */
const haveTools = (await hasTool('mkfs.ext4')) && (await hasTool('debugfs')) && (await hasTool('mkfs.vfat')) && (await hasTool('mcopy'))

let dir: string
const open: { file: FileSource; volume: Volume }[] = []

async function openImage(image: string): Promise<Volume> {
  const file = await FileSource.open(image)
  const volume = await openVolume(file)
  open.push({ file, volume })
  return volume
}

/** Replaces every occurrence of `from` in the image by `to` (same length): a raw edit of directory entries. */
async function patch(image: string, from: Buffer, to: Buffer): Promise<void> {
  const bytes = await readFile(image)
  let count = 0
  for (let at = bytes.indexOf(from); at >= 0; at = bytes.indexOf(from, at + 1), count++) to.copy(bytes, at)
  expect(count).toBeGreaterThan(0)
  await writeFile(image, bytes)
}

async function sha(path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const c of createReadStream(path)) h.update(c as Buffer)
  return h.digest('hex')
}

const debugfs = (image: string, request: string): Promise<string> => run('debugfs', ['-w', '-R', request, image])

let hostile: Volume
let sparse: Volume
let fat: Volume
let liar: Volume

beforeAll(async () => {
  dir = await makeTempDir('hostile')
  if (!haveTools) return
  const src = join(dir, 'src')
  for (const d of ['d', 'a', 'files', 'links', 'systemd/bs\\x2ddir']) await mkdir(join(src, d), { recursive: true })
  await writeFile(join(src, 'a', 'inner.txt'), 'inner\n')
  await writeFile(join(src, 'd', 'f0.txt'), 'd0\n')
  await writeFile(join(src, 'systemd', 'bs\\x2ddir', 'unit.conf'), '[Unit]\n')
  await writeFile(join(src, 'systemd', 'back\\slash.txt'), 'bs\n')
  await writeFile(join(src, 'files', 'slashXname.txt'), 'slash\n')
  await writeFile(join(src, 'files', 'broken.bin'), seededBytes(200_000, 1))
  await writeFile(join(src, 'files', 'z-after.txt'), 'after\n')
  await symlink('.', join(src, 'links', 's'))
  await symlink('s/s/s/../../../etc', join(src, 'links', 'hostetc'))
  await symlink('s/../s/tame.txt', join(src, 'links', 'via'))
  await writeFile(join(src, 'links', 'tame.txt'), 'tame\n')
  const image = join(dir, 'hostile.img')
  // Block maps (no extents) so that one block pointer in the middle of a file can be broken.
  await makeExt(image, src, { sizeMiB: 64, kind: 'ext4', features: '^extent,^64bit,^metadata_csum', blockSize: 4096 })
  await debugfs(image, 'ln / /d/loop')
  await debugfs(image, 'ln /a /d/alias')
  await debugfs(image, 'sif /files/broken.bin block[5] 4000000000')
  await patch(image, Buffer.from('slashXname.txt'), Buffer.from('slash/name.txt'))
  hostile = await openImage(image)

  const sparseSrc = join(dir, 'sparse-src')
  await mkdir(sparseSrc)
  const big = join(sparseSrc, 'holes.bin')
  await writeFile(big, '')
  await truncate(big, 300 * MiB)
  const { open: openFile } = await import('node:fs/promises')
  const fh = await openFile(big, 'r+')
  try {
    await fh.write(seededBytes(100_000, 2), 0, 100_000, 7 * MiB)
    await fh.write(seededBytes(5000, 3), 0, 5000, 300 * MiB - 5000)
  } finally {
    await fh.close()
  }
  const huge = join(sparseSrc, 'two-tebibytes.bin')
  await writeFile(huge, '')
  await truncate(huge, 2 * 1024 * 1024 * MiB)
  await writeFile(join(sparseSrc, 'small.txt'), 'small\n')
  const sparseImage = join(dir, 'sparse.img')
  await makeExt(sparseImage, sparseSrc, { sizeMiB: 16, kind: 'ext4', blockSize: 4096 })
  sparse = await openImage(sparseImage)

  const fatImage = join(dir, 'fat.img')
  await run('truncate', ['-s', '2M', fatImage])
  await run('mkfs.vfat', [fatImage])
  await writeFile(join(dir, 'AXB.TXT'), 'fat slash\n')
  await writeFile(join(dir, 'OK.TXT'), 'ok\n')
  await run('mcopy', ['-i', fatImage, join(dir, 'AXB.TXT'), join(dir, 'OK.TXT'), '::/'])
  await patch(fatImage, Buffer.from('AXB     TXT'), Buffer.from('A/B     TXT'))
  fat = await openImage(fatImage)

  const liarSrc = join(dir, 'liar-src')
  await mkdir(liarSrc)
  await writeFile(join(liarSrc, 'liar.bin'), seededBytes(2 * MiB, 4))
  const liarImage = join(dir, 'liar.img')
  await makeExt(liarImage, liarSrc, { sizeMiB: 16, kind: 'ext4', blockSize: 4096 })
  // The inode now claims no blocks at all: the free-space estimate believes it, the writer must not.
  await debugfs(liarImage, 'sif /liar.bin blocks 0')
  liar = await openImage(liarImage)
})
afterAll(async () => {
  for (const o of open) {
    await o.volume.close()
    await o.file.close()
  }
  await rm(dir, { recursive: true, force: true })
})

describe.skipIf(!haveTools)('restoring from hostile images', () => {
  it('a hard link to a parent folder: the restore ends, reports the loop and copies a twice-linked folder once', async () => {
    const out = join(dir, 'out-loop')
    const report = await extractTo(hostile, '/', out, { platform: 'posix' })
    expect(report.skipped.find((s) => s.path === '/d/loop')?.reason).toMatch(/one of its own parents/)
    const repeats = report.skipped.filter((s) => /second name/.test(s.reason)).map((s) => s.path)
    expect(repeats.length).toBe(1)
    const copies = [join(out, 'a', 'inner.txt'), join(out, 'd', 'alias', 'inner.txt')]
    const present = await Promise.all(copies.map((p) => lstat(p).then(() => true, () => false)))
    expect(present.filter(Boolean)).toHaveLength(1)
  })

  it('a hard link to a parent folder: tar and search end and report the loop', async () => {
    const problems: string[] = []
    let bytes = 0
    for await (const b of tarStream(hostile, '/', { onProblem: (p) => problems.push(p.path) })) bytes += b.length
    expect(bytes % 512).toBe(0)
    expect(problems).toContain('/d/loop')
    // A tar member cannot be taken back once its header is out: the unreadable rest is zeros, and said so.
    expect(problems).toContain('/files/broken.bin')
    const searched: string[] = []
    const hits: string[] = []
    for await (const h of hostile.search('/', 'inner.txt', { onProblem: (p) => searched.push(p.path) })) hits.push(h.path)
    expect(hits).toHaveLength(1)
    expect(searched).toContain('/d/loop')
  })

  it('names with backslashes (systemd escapes) are restored as they are', async () => {
    const out = join(dir, 'out-bs')
    const report = await extractTo(hostile, '/systemd', out, { platform: 'posix' })
    expect(report.skipped).toEqual([])
    expect(await readFile(join(out, 'systemd', 'bs\\x2ddir', 'unit.conf'), 'utf8')).toBe('[Unit]\n')
    expect(await readFile(join(out, 'systemd', 'back\\slash.txt'), 'utf8')).toBe('bs\n')
  })

  it('a name holding "/" is restored under a safe name; a file unreadable midway leaves nothing and the rest goes on', async () => {
    const out = join(dir, 'out-files')
    const report = await extractTo(hostile, '/files', out, { platform: 'posix' })
    expect(report.renamed).toEqual([{ path: '/files/slash/name.txt', to: 'slash_name.txt' }])
    expect(await readFile(join(out, 'files', 'slash_name.txt'), 'utf8')).toBe('slash\n')
    expect(await readFile(join(out, 'files', 'z-after.txt'), 'utf8')).toBe('after\n')
    expect(report.skipped).toHaveLength(1)
    expect(report.skipped[0]).toMatchObject({ path: '/files/broken.bin', reason: expect.stringMatching(/could not be read.*outside the volume/) as unknown })
    expect((await readdir(join(out, 'files'))).sort()).toEqual(['slash_name.txt', 'z-after.txt'])
  })

  it('a FAT name holding "/" is restored under a safe name with its content', async () => {
    const out = join(dir, 'out-fat')
    const report = await extractTo(fat, '/', out, { platform: 'posix' })
    expect(report.renamed.map((r) => r.to)).toEqual(['A_B.TXT'])
    expect(await readFile(join(out, 'A_B.TXT'), 'utf8')).toBe('fat slash\n')
    expect(await readFile(join(out, 'OK.TXT'), 'utf8')).toBe('ok\n')
  })

  it('symlinks cannot leave the restore folder through other restored symlinks (s -> . and s/s/s/../../../etc)', async () => {
    const out = join(dir, 'out-links')
    const report = await extractTo(hostile, '/links', out, { platform: 'posix' })
    expect(await readlink(join(out, 'links', 's'))).toBe('.')
    expect(await readlink(join(out, 'links', 'via'))).toBe('s/../s/tame.txt')
    await expect(lstat(join(out, 'links', 'hostetc'))).rejects.toMatchObject({ code: 'ENOENT' })
    expect(report.skipped).toEqual([{ path: '/links/hostetc', reason: expect.stringMatching(/outside the restore folder/) as unknown }])
    expect(report.symlinks).toBe(2)
  })

  it('a 300 MiB sparse file stays sparse, and a 2 TiB one takes seconds, with identical content', async () => {
    const out = join(dir, 'out-sparse')
    const started = Date.now()
    const report = await extractTo(sparse, '/', out, { platform: 'posix' })
    expect(Date.now() - started).toBeLessThan(20_000)
    expect(report.files).toBe(3)
    const st = await stat(join(out, 'holes.bin'))
    expect(st.size).toBe(300 * MiB)
    expect(st.blocks * 512).toBeLessThan(2 * MiB)
    expect(await sha(join(out, 'holes.bin'))).toBe(await sha(join(dir, 'sparse-src', 'holes.bin')))
    const huge = await stat(join(out, 'two-tebibytes.bin'))
    expect({ size: huge.size, blocks: huge.blocks }).toEqual({ size: 2 * 1024 * 1024 * MiB, blocks: 0 })
  })

  it('refuses a restore that does not fit, naming both numbers, and leaves nothing behind', async () => {
    const out = join(dir, 'out-full', 'target')
    const statfs = (): Promise<{ bavail: number; bsize: number }> => Promise.resolve({ bavail: 10, bsize: 4096 })
    await expect(extractTo(sparse, '/', out, { platform: 'posix', statfs })).rejects.toThrow(/needs .* \(\d+ bytes\) but only 40 KiB \(40960 bytes\) are free/)
    await expect(lstat(join(dir, 'out-full'))).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it.skipIf(!canMount)('a file larger than the target filesystem allows is skipped and the rest restored', async () => {
    const image = join(dir, 'small-ext2.img')
    await run('mkfs.ext2', ['-q', '-F', '-b', '1024', image, '8M'])
    const mnt = join(dir, 'small-mnt')
    await mkdir(mnt)
    await run('mount', ['-o', 'loop', image, mnt])
    try {
      const out = join(mnt, 'out')
      const report = await extractTo(sparse, '/', out, { platform: 'posix' })
      expect(report.skipped).toEqual([{ path: '/two-tebibytes.bin', reason: expect.stringMatching(/larger than the restore folder's filesystem allows/) as unknown }])
      expect((await readdir(out)).sort()).toEqual(['holes.bin', 'lost+found', 'small.txt'])
      expect(await readFile(join(out, 'small.txt'), 'utf8')).toBe('small\n')
    } finally {
      await run('umount', [mnt])
    }
  })

  it('stops when an image understates what it stores, before the free space is used up, and keeps no partial file', async () => {
    const out = join(dir, 'out-liar')
    const statfs = (): Promise<{ bavail: number; bsize: number }> => Promise.resolve({ bavail: 64, bsize: 4096 })
    await expect(extractTo(liar, '/liar.bin', out, { platform: 'posix', statfs })).rejects.toThrow(/more data than the 262144 bytes that were free/)
    expect(await readdir(out)).toEqual([])
  })
})
