import { createHash } from 'node:crypto'
import { lstat, mkdir, open, readdir, readFile, readlink, symlink, truncate, utimes, writeFile, chmod } from 'node:fs/promises'
import { join } from 'node:path'
import { seededBytes } from '../../disks/testing/tools'

/** Test-only: builds a source tree with the shapes that break readers, and describes any tree for comparison. */
export interface TreeOptions {
  readonly bigDirFiles: number
  readonly depth: number
  readonly largeBytes: number
  /** Islands in the fragmented sparse file (many extents → deep extent trees, B+tree maps, long runlists). */
  readonly fragments: number
  readonly symlinks: boolean
  /** FAT keeps no case and fewer characters: keep names it can store. */
  readonly fatSafe: boolean
}

const MiB = 1024 * 1024

export async function buildTree(root: string, o: TreeOptions): Promise<void> {
  await mkdir(root, { recursive: true })
  await writeFile(join(root, 'hello.txt'), 'hello, lifeboat\n')
  await writeFile(join(root, 'empty'), '')
  await writeFile(join(root, 'small-60.bin'), seededBytes(60, 11))
  await writeFile(join(root, 'large.bin'), seededBytes(o.largeBytes, 12))
  // mtools 4.0.32 mangles characters outside the BMP in long names, so FAT trees use a BMP symbol instead.
  const names = o.fatSafe ? ['café.txt', '日本語のファイル.txt', 'plane ✈.md', 'a'.repeat(200) + '.txt'] : ['café.txt', '日本語のファイル.txt', 'rocket 🚀.md', 'a'.repeat(240) + '.txt', 'Case', 'case.dup', 'spaces and (parens) [x].txt']
  for (const [i, n] of names.entries()) await writeFile(join(root, n), `unicode ${i} ${n}\n`)
  let deep = join(root, 'deep')
  for (let d = 0; d < o.depth; d++) {
    deep = join(deep, `level-${d}`)
    await mkdir(deep, { recursive: true })
    await writeFile(join(deep, `file-${d}.txt`), seededBytes(100 + d * 37, 100 + d))
  }
  const big = join(root, 'many')
  await mkdir(big)
  for (let i = 0; i < o.bigDirFiles; i++) await writeFile(join(big, `file-${String(i).padStart(5, '0')}-${'x'.repeat(i % 40)}.dat`), seededBytes(i % 3000, 1000 + i))
  const mid = join(root, 'medium')
  await mkdir(mid)
  for (let i = 0; i < 60; i++) await writeFile(join(mid, `m${i}.txt`), `medium ${i}\n`)
  // A sparse file: three data islands in 64 MiB of holes.
  const sparse = join(root, 'sparse.img')
  await writeFile(sparse, '')
  await truncate(sparse, 64 * MiB)
  const fh = await open(sparse, 'r+')
  try {
    await fh.write(seededBytes(100_000, 21), 0, 100_000, 5 * MiB)
    await fh.write(seededBytes(4096, 22), 0, 4096, 33 * MiB)
    await fh.write(seededBytes(1000, 23), 0, 1000, 64 * MiB - 1000)
  } finally {
    await fh.close()
  }
  if (o.fragments > 0) {
    const frag = await open(join(root, 'fragmented.bin'), 'w')
    try {
      for (let i = 0; i < o.fragments; i++) await frag.write(seededBytes(4096, 5000 + i), 0, 4096, i * 16384)
    } finally {
      await frag.close()
    }
  }
  if (o.symlinks) {
    await symlink('hello.txt', join(root, 'link-relative'))
    await symlink('deep/level-0/file-0.txt', join(root, 'link-deep'))
    await symlink('/etc/passwd', join(root, 'link-absolute'))
    await symlink('../../outside', join(root, 'link-escape'))
    await symlink('x'.repeat(100), join(root, 'link-long-target'))
    await chmod(join(root, 'hello.txt'), 0o640)
  }
  await utimes(join(root, 'hello.txt'), new Date('2001-02-03T04:05:06Z'), new Date('2001-02-03T04:05:06Z'))
}

export interface TreeItem {
  readonly path: string
  readonly type: 'file' | 'directory' | 'symlink'
  readonly size: number
  readonly sha256?: string
  readonly target?: string
  readonly mode?: number
  readonly mtimeSeconds: number
}

/** Every object under `root`, keyed by '/'-path, from the real filesystem (the ground truth). */
export async function describeTree(root: string): Promise<Map<string, TreeItem>> {
  const out = new Map<string, TreeItem>()
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const name of await readdir(dir)) {
      const full = join(dir, name)
      const path = `${rel}/${name}`
      const st = await lstat(full)
      const mtimeSeconds = Math.floor(st.mtimeMs / 1000)
      if (st.isSymbolicLink()) out.set(path, { path, type: 'symlink', size: st.size, target: await readlink(full), mtimeSeconds })
      else if (st.isDirectory()) {
        out.set(path, { path, type: 'directory', size: 0, mode: st.mode & 0o7777, mtimeSeconds })
        await walk(full, path)
      } else out.set(path, { path, type: 'file', size: st.size, sha256: createHash('sha256').update(await readFile(full)).digest('hex'), mode: st.mode & 0o7777, mtimeSeconds })
    }
  }
  await walk(root, '')
  return out
}
