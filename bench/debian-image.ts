import { execFile } from 'node:child_process'
import { copyFile, lstat, mkdir, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const MiB = 1024 * 1024

/** Where the debootstrap'd tree and its images are kept between benchmark runs (building one takes minutes). */
export const BENCH_CACHE = process.env.LIFEBOAT_BENCH_CACHE ?? path.join(tmpdir(), 'lifeboat-bench-cache')

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  )
}

/** A Debian root tree: `debootstrap --variant=minbase bookworm` when it is installed and we are root, cached. */
async function debootstrapTree(log: (line: string) => void): Promise<string | undefined> {
  const tree = path.join(BENCH_CACHE, 'debian-bookworm-minbase')
  // Written only after a debootstrap that finished: a tree left by one that failed half-way is not used.
  const done = path.join(BENCH_CACHE, 'debian-bookworm-minbase.complete')
  if (await exists(done)) return tree
  if (process.getuid?.() !== 0) return undefined
  const found = await run('sh', ['-c', 'command -v debootstrap']).then(
    () => true,
    () => false,
  )
  if (!found) return undefined
  log(`  debootstrap --variant=minbase bookworm into ${tree} (once; cached) …`)
  await rm(tree, { recursive: true, force: true })
  await mkdir(tree, { recursive: true })
  try {
    await run('debootstrap', ['--variant=minbase', 'bookworm', tree, 'http://deb.debian.org/debian'], { timeout: 20 * 60_000, maxBuffer: 64 * MiB })
    // The package cache is not part of an installed system's disk.
    await rm(path.join(tree, 'var', 'cache', 'apt', 'archives'), { recursive: true, force: true })
    await run('touch', [done])
    return tree
  } catch (err) {
    log(`  debootstrap failed (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); using a tree from /usr instead`)
    await rm(tree, { recursive: true, force: true })
    return undefined
  }
}

/** Fallback: regular files and symlinks from /usr, up to `budgetMiB`, as a stand-in for an installed system. */
async function usrTree(budgetMiB: number): Promise<string> {
  const tree = path.join(BENCH_CACHE, `usr-tree-${budgetMiB}`)
  if (await exists(path.join(tree, '.complete'))) return tree
  await rm(tree, { recursive: true, force: true })
  let left = budgetMiB * MiB
  const walk = async (from: string, to: string): Promise<void> => {
    await mkdir(to, { recursive: true })
    for (const name of (await readdir(from)).sort()) {
      if (left <= 0) return
      const src = path.join(from, name)
      const st = await lstat(src)
      if (st.isDirectory()) await walk(src, path.join(to, name))
      else if (st.isFile() && st.size <= left) {
        await copyFile(src, path.join(to, name))
        left -= st.size
      }
    }
  }
  await walk('/usr', path.join(tree, 'usr'))
  await run('touch', [path.join(tree, '.complete')])
  return tree
}

/**
 * An ext4 image of a Linux root filesystem, `sizeMiB` MiB, as raw (sparse: free space is holes, as on a thin disk)
 * and qcow2, in `dir`. Returns what it is made of, for the report.
 */
export async function debianImages(dir: string, sizeMiB: number, log: (line: string) => void): Promise<{ raw: string; qcow2: string; source: string }> {
  await mkdir(BENCH_CACHE, { recursive: true })
  const tree = (await debootstrapTree(log)) ?? (await usrTree(400))
  const source = tree.endsWith('minbase') ? 'debootstrap --variant=minbase bookworm' : 'files from /usr (debootstrap unavailable)'
  const cached = path.join(BENCH_CACHE, `${path.basename(tree)}-${sizeMiB}.raw`)
  if (!(await exists(cached))) {
    await run('truncate', ['-s', `${sizeMiB}M`, `${cached}.part`])
    await run('mkfs.ext4', ['-q', '-F', '-b', '4096', '-E', 'lazy_itable_init=0,lazy_journal_init=0', '-L', 'root', '-d', tree, `${cached}.part`])
    await run('mv', [`${cached}.part`, cached])
  }
  const raw = path.join(dir, 'debian.raw')
  const qcow2 = path.join(dir, 'debian.qcow2')
  await run('cp', ['--sparse=always', cached, raw])
  await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2])
  return { raw, qcow2, source }
}
