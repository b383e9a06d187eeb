import { spawn } from 'node:child_process'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { FileSource } from '../engine/disks/file-source'
import { hasTool, run } from '../engine/disks/testing/tools'
import { openVolume } from '../engine/filesystems/open-volume'
import { extractTo } from '../engine/filesystems/ops/extract'
import { makeExt } from '../engine/filesystems/testing/fixtures'

/**
 * The many-small-files half of `npm run bench:files`: restoring a folder of 50,000 small files and one of 130,000
 * entries out of an ext4 image (mkfs.ext4 -d), against `debugfs -R "rdump DIR OUT"` on the same image and `cp -r`
 * from the image loop-mounted read-only (root), in the same run. The page cache is dropped before every timed run.
 * Lifeboat's time includes opening the image and counting what to copy, as a restore job does.
 */
export interface ManyRow {
  readonly name: string
  readonly entries: number
  readonly lifeboatMs: number
  readonly debugfsMs: number
  readonly cpMs: number
}

interface Shape {
  readonly name: string
  readonly folders: number
  readonly filesPerFolder: number
}

/** 50 × 1000 = 50,000 files (+51 folders); 130 × 999 + 130 folders + the top = 130,001 entries. */
const SHAPES: readonly Shape[] = [
  { name: '50k small files', folders: 50, filesPerFolder: 1000 },
  { name: '130k entries', folders: 130, filesPerFolder: 999 },
]

async function buildTree(root: string, shape: Shape): Promise<number> {
  let entries = 1
  for (let d = 0; d < shape.folders; d++) {
    const folder = join(root, 'tree', `folder-${d}`)
    await mkdir(folder, { recursive: true })
    entries++
    for (let f = 0; f < shape.filesPerFolder; f++) {
      // A third empty (lock files, markers), the rest a few hundred bytes (configs, small sources).
      await writeFile(join(folder, `file-${f}.txt`), f % 3 === 0 ? '' : `folder ${d} file ${f}\n`.repeat(1 + (f % 40)))
      entries++
    }
  }
  return entries
}

async function timed(cmd: string, args: readonly string[]): Promise<number> {
  const t0 = performance.now()
  await new Promise<void>((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] })
    p.on('error', reject)
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}`))))
  })
  return performance.now() - t0
}

export async function benchManyFiles(dir: string, dropCaches: () => Promise<boolean>): Promise<ManyRow[]> {
  const rows: ManyRow[] = []
  const canMount = process.getuid?.() === 0
  const haveDebugfs = await hasTool('debugfs')
  // mkfs.ext4 gives an inode per 16 KiB: the image is sized for the entries (it is sparse, so this costs nothing).
  for (const shape of SHAPES) {
    const src = join(dir, 'many-src')
    const image = join(dir, 'many.img')
    const out = join(dir, 'many-out')
    await rm(src, { recursive: true, force: true })
    const entries = await buildTree(src, shape)
    const t0 = performance.now()
    await makeExt(image, src, { sizeMiB: Math.ceil((entries * 20 * 1024) / 1024 / 1024) + 64, kind: 'ext4' })
    console.log(`${shape.name}: ${entries} entries, image built in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
    await rm(src, { recursive: true, force: true })

    await rm(out, { recursive: true, force: true })
    await dropCaches()
    const s = performance.now()
    const file = await FileSource.open(image)
    try {
      const volume = await openVolume(file)
      const report = await extractTo(volume, '/tree', out)
      if (report.files + report.directories !== entries || report.skipped.length > 0) throw new Error(`${shape.name}: restored ${report.files} files and ${report.directories} folders of ${entries} entries`)
      await volume.close()
    } finally {
      await file.close()
    }
    const lifeboatMs = performance.now() - s

    let debugfsMs = Number.NaN
    if (haveDebugfs) {
      await rm(out, { recursive: true, force: true })
      await mkdir(out)
      await dropCaches()
      debugfsMs = await timed('debugfs', ['-R', `rdump /tree ${out}`, image])
    }

    let cpMs = Number.NaN
    if (canMount) {
      await rm(out, { recursive: true, force: true })
      const mnt = `${image}.mnt`
      await mkdir(mnt, { recursive: true })
      await run('mount', ['-o', 'loop,ro', '-t', 'ext4', image, mnt])
      try {
        await dropCaches()
        cpMs = await timed('cp', ['-r', join(mnt, 'tree'), out])
      } finally {
        await run('umount', [mnt])
        await rm(mnt, { recursive: true, force: true })
      }
    }
    await rm(out, { recursive: true, force: true })
    await rm(image, { force: true })
    const row: ManyRow = { name: shape.name, entries, lifeboatMs, debugfsMs, cpMs }
    rows.push(row)
    console.log(formatManyRow(row))
  }
  return rows
}

export function formatManyRow(r: ManyRow): string {
  const rate = (ms: number): string => (Number.isNaN(ms) ? 'n/a' : `${((r.entries / ms) * 1000).toFixed(0)}/s (${(ms / 1000).toFixed(2)} s)`)
  const ratio = r.cpMs / r.lifeboatMs
  return `${r.name.padEnd(16)} Lifeboat ${rate(r.lifeboatMs).padEnd(20)} debugfs rdump ${rate(r.debugfsMs).padEnd(20)} cp -r (loop mount) ${rate(r.cpMs).padEnd(20)} ${Number.isNaN(ratio) ? '' : `${(ratio * 100).toFixed(0)} % of cp -r, target 50 %: ${ratio >= 0.5 ? 'ok' : 'MISSED'}`}`
}
