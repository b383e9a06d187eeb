/**
 * Disk images for libvirt test domains, made by the real tools (mkfs.ext4 -d, qemu-img) rather than by hand.
 */
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { run } from './run'

export type DiskFormat = 'qcow2' | 'raw'

/** A sparse raw file of `size` bytes holding only `pieces` (everything else a hole): a thin disk as hosts keep them. */
export async function writeSparseFile(file: string, size: number, pieces: readonly { readonly offset: number; readonly data: Uint8Array }[]): Promise<string> {
  const fh = await open(file, 'w')
  try {
    await fh.truncate(size)
    for (const p of pieces) await fh.write(p.data, 0, p.data.length, p.offset)
  } finally {
    await fh.close()
  }
  return file
}

/**
 * A fresh temp folder that libvirt's QEMU (user libvirt-qemu) can traverse: libvirt chowns the disk files it is given,
 * never their parent folders, and mkdtemp makes 0700 folders.
 */
export async function makeTestDir(prefix = 'lb-vm-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix))
  await chmod(dir, 0o755)
  return dir
}

/**
 * An ext4 filesystem filled from `fromDir` (`mkfs.ext4 -d` on a raw file), then converted to qcow2 unless raw is asked
 * for. `sizeBytes` must hold the files plus ext4's overhead; 64 MiB is plenty for small fixtures.
 */
export async function makeExt4DataDisk(options: {
  readonly fromDir: string
  readonly path: string
  readonly sizeBytes: number
  readonly format?: DiskFormat
  readonly label?: string
}): Promise<string> {
  const format = options.format ?? 'qcow2'
  const raw = format === 'raw' ? options.path : `${options.path}.ext4-build.raw`
  try {
    await run('truncate', ['-s', String(options.sizeBytes), raw])
    // 4 KiB blocks and no lazy init: the image is complete when mkfs returns (no background zeroing in the guest).
    await run('mkfs.ext4', ['-q', '-F', '-b', '4096', '-E', 'lazy_itable_init=0,lazy_journal_init=0', '-L', options.label ?? 'lbdata', '-d', options.fromDir, raw])
    if (format === 'qcow2') await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, options.path])
  } finally {
    if (raw !== options.path) await rm(raw, { force: true })
  }
  return options.path
}

/**
 * The web server's data disk of the simulator journeys: a raw 64 MiB ext4 image in `dir` holding reports/q3-revenue.csv
 * (300 000 random bytes, base64) and readme.txt. Returns the image's bytes and the report's.
 */
export async function makeWebDataDisk(dir: string): Promise<{ readonly disk: Buffer; readonly report: Buffer }> {
  const files = path.join(dir, 'files')
  await mkdir(path.join(files, 'reports'), { recursive: true })
  const report = Buffer.from(randomBytes(300_000).toString('base64'))
  await writeFile(path.join(files, 'reports', 'q3-revenue.csv'), report)
  await writeFile(path.join(files, 'readme.txt'), 'Data disk of the web server.\n')
  const image = await makeExt4DataDisk({ fromDir: files, path: path.join(dir, 'web01.raw'), sizeBytes: 64 * 1024 * 1024, format: 'raw' })
  return { disk: await readFile(image), report }
}

/** An empty (all-zero) disk. */
export async function makeBlankDisk(options: { readonly path: string; readonly sizeBytes: number; readonly format?: DiskFormat }): Promise<string> {
  await run('qemu-img', ['create', '-q', '-f', options.format ?? 'qcow2', options.path, String(options.sizeBytes)])
  return options.path
}

/** The guest-visible bytes of any image qemu-img can read, as a raw file. `-U`: the image may be in use by a running VM. */
export async function convertToRaw(image: string, rawPath: string, format?: DiskFormat): Promise<string> {
  await run('qemu-img', ['convert', '-U', ...(format === undefined ? [] : ['-f', format]), '-O', 'raw', image, rawPath])
  return rawPath
}
