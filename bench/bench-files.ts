import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, open, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { FileSource } from '../engine/disks/file-source'
import { hasTool, makeTempDir, run, seededBytes } from '../engine/disks/testing/tools'
import { openVolume } from '../engine/filesystems/open-volume'
import { makeExt, makeFat, makeNtfs, makeXfs } from '../engine/filesystems/testing/fixtures'
import { benchManyFiles, formatManyRow, type ManyRow } from './bench-many-files'

/**
 * File-level restore benchmark (`npm run bench:files`):
 *   node --import tsx bench/bench-files.ts [--fs ext4,xfs,ntfs,fat32|none] [--image-gib 4] [--file-gib 1] [--verify] [--no-many]
 * For each filesystem: a 4 GiB image holding a 1 GiB file and a few thousand small ones, made by the real tools.
 * Measures (1) cold open + list of the root, (2) reading the 1 GiB file through Lifeboat vs. `cat` of the same file
 * from the image mounted by the kernel (ext4, XFS) or FUSE (ntfs-3g, fusefat — this kernel has no vfat/ntfs3).
 * Fairness: the page cache is dropped (sync; echo 3 > /proc/sys/vm/drop_caches) before every timed run, so both
 * sides read the same image file cold from the same disk; without root the runs are warm and say so.
 * Then (unless --no-many) restoring a folder of 50,000 small files and one of 130,000 entries from ext4, against
 * debugfs rdump and cp -r from a loop mount (bench-many-files.ts). `--fs none` runs only that part.
 */
const args = process.argv.slice(2)
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? (args[i + 1] ?? def) : def
}
const GiB = 1024 ** 3
const MiB = 1024 ** 2
const systems = opt('fs', 'ext4,xfs,ntfs,fat32').split(',').filter((s) => s !== 'none')
const many = !args.includes('--no-many')
const imageGiB = Number(opt('image-gib', '4'))
const fileBytes = Number(opt('file-gib', '1')) * GiB
const verify = args.includes('--verify')

async function dropCaches(): Promise<boolean> {
  try {
    await run('sync', [])
    await writeFile('/proc/sys/vm/drop_caches', '3\n')
    return true
  } catch {
    return false
  }
}

async function timeCat(path: string): Promise<number> {
  const t0 = performance.now()
  await new Promise<void>((resolve, reject) => {
    const p = spawn('sh', ['-c', `cat "$1" > /dev/null`, 'sh', path], { stdio: 'inherit' })
    p.on('error', reject)
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`cat exited ${code}`))))
  })
  return performance.now() - t0
}

async function buildSource(dir: string): Promise<void> {
  await mkdir(join(dir, 'docs'), { recursive: true })
  const big = await open(join(dir, 'big.bin'), 'w')
  const block = seededBytes(64 * MiB, 99)
  for (let at = 0; at < fileBytes; at += block.length) {
    block.writeUInt32LE(at / block.length, 0)
    await big.write(block, 0, Math.min(block.length, fileBytes - at), at)
  }
  await big.close()
  for (let d = 0; d < 20; d++) {
    const sub = join(dir, 'docs', `folder-${d}`)
    await mkdir(sub)
    for (let f = 0; f < 150; f++) await writeFile(join(sub, `document-${f}.txt`), `folder ${d} file ${f}\n`.repeat(1 + (f % 50)))
  }
  for (let i = 0; i < 40; i++) await writeFile(join(dir, `root-file-${i}.txt`), `root ${i}\n`)
}

async function withReferenceMount<T>(fs: string, image: string, fn: (mnt: string) => Promise<T>): Promise<T> {
  const mnt = `${image}.mnt`
  await mkdir(mnt, { recursive: true })
  if (fs === 'ntfs') await run('ntfs-3g', ['-o', 'ro', image, mnt])
  else if (fs === 'fat32') await run('fusefat', ['-o', 'ro', image, mnt])
  else await run('mount', ['-o', 'loop,ro', '-t', fs, image, mnt])
  try {
    return await fn(mnt)
  } finally {
    await run('umount', [mnt])
    await rm(mnt, { recursive: true, force: true })
  }
}

interface Row {
  fs: string
  listMs: number[]
  lifeboatMiBs: number
  catMiBs: number
  ratio: number
  reference: string
  verified?: boolean
}

const dir = await makeTempDir('bench')
const rows: Row[] = []
let manyRows: ManyRow[] = []
let cold = true
try {
  const src = join(dir, 'src')
  if (systems.length > 0) console.log(`building source tree with a ${fileBytes / GiB} GiB file in ${src}`)
  if (systems.length > 0) await buildSource(src)
  for (const fs of systems) {
    const image = join(dir, `${fs}.img`)
    const sizeMiB = imageGiB * 1024
    const t0 = performance.now()
    if (fs === 'ext4') await makeExt(image, src, { sizeMiB, kind: 'ext4' })
    else if (fs === 'xfs') await makeXfs(image, src, { sizeMiB })
    else if (fs === 'ntfs') await makeNtfs(image, src, { sizeMiB })
    else if (fs === 'fat32') await makeFat(image, src, { sizeMiB, fatBits: 32 })
    else throw new Error(`unknown filesystem ${fs}`)
    console.log(`${fs}: image built in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
    const listMs: number[] = []
    for (let i = 0; i < 3; i++) {
      cold = (await dropCaches()) && cold
      const s = performance.now()
      const file = await FileSource.open(image)
      const volume = await openVolume(file)
      const entries = await volume.list('/')
      listMs.push(performance.now() - s)
      if (entries.length < 40) throw new Error(`root of ${fs} lists only ${entries.length} entries`)
      await volume.close()
      await file.close()
    }
    cold = (await dropCaches()) && cold
    const file = await FileSource.open(image)
    const volume = await openVolume(file)
    const s = performance.now()
    let bytes = 0
    const hash = verify ? createHash('sha256') : undefined
    for await (const chunk of volume.readFile('/big.bin')) {
      bytes += chunk.length
      hash?.update(chunk)
    }
    const ours = performance.now() - s
    await volume.close()
    await file.close()
    if (bytes !== fileBytes) throw new Error(`${fs}: read ${bytes} bytes, expected ${fileBytes}`)
    let verified: boolean | undefined
    if (hash) {
      const h = createHash('sha256')
      const fh = await open(join(src, 'big.bin'))
      for await (const c of fh.createReadStream()) h.update(c as Buffer)
      verified = h.digest('hex') === hash.digest('hex')
    }
    const reference = fs === 'ntfs' ? 'ntfs-3g (FUSE)' : fs === 'fat32' ? ((await hasTool('fusefat')) ? 'fusefat (FUSE)' : 'none: no FAT driver (apt-get install fusefat)') : `kernel ${fs}, loop`
    let catMs = Number.NaN
    if (!reference.startsWith('none')) {
      catMs = await withReferenceMount(fs, image, async (mnt) => {
        cold = (await dropCaches()) && cold
        return timeCat(join(mnt, 'big.bin'))
      })
    }
    const lifeboatMiBs = fileBytes / MiB / (ours / 1000)
    const catMiBs = fileBytes / MiB / (catMs / 1000)
    rows.push({ fs, listMs, lifeboatMiBs, catMiBs, ratio: lifeboatMiBs / catMiBs, reference, ...(verified !== undefined ? { verified } : {}) })
    console.log(`${fs}: list root ${listMs.map((m) => m.toFixed(0)).join('/')} ms; 1 GiB in ${(ours / 1000).toFixed(2)} s = ${lifeboatMiBs.toFixed(0)} MiB/s; ${Number.isNaN(catMs) ? `no reference (${reference})` : `cat via ${reference} ${catMiBs.toFixed(0)} MiB/s`}`)
    await rm(image, { force: true })
  }
  await rm(src, { recursive: true, force: true })
  if (many) manyRows = await benchManyFiles(dir, async () => (cold = (await dropCaches()) && cold))
} finally {
  await rm(dir, { recursive: true, force: true })
}
console.log(`\ncaches: ${cold ? 'dropped before every timed run (cold)' : 'NOT dropped (not root?): warm runs'}`)
console.log('fs      list root (3 cold runs)   Lifeboat MiB/s   cat MiB/s (reference)         ratio  target')
for (const r of rows) {
  const listOk = Math.max(...r.listMs) < 300
  console.log(
    `${r.fs.padEnd(7)} ${r.listMs.map((m) => `${m.toFixed(0)} ms`).join(', ').padEnd(25)} ${r.lifeboatMiBs.toFixed(0).padStart(14)}   ${(Number.isNaN(r.catMiBs) ? `— (${r.reference})` : `${r.catMiBs.toFixed(0)} (${r.reference})`).padEnd(29)} ${Number.isNaN(r.ratio) ? '   —  ' : `${(r.ratio * 100).toFixed(0).padStart(4)} %`}  list ${listOk ? 'ok' : 'MISSED'}, read ${Number.isNaN(r.ratio) ? 'no reference' : r.ratio >= 0.5 ? 'ok' : 'MISSED'}${r.verified === undefined ? '' : r.verified ? ', sha256 ok' : ', SHA256 MISMATCH'}`,
  )
}
if (manyRows.length > 0) {
  console.log('\nrestore of many small files (ext4), entries per second:')
  for (const r of manyRows) console.log(formatManyRow(r))
}
