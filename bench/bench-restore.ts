/**
 * `npm run bench:restore` — the way out (issue 19 point 1), every figure from one run, whole commands as a user runs
 * them, the page cache dropped before each timed command:
 *   1. `lifeboat points export --format raw` of the 2 GiB mixed point (bench-image.ts) from a local encrypted
 *      repository, against `restic restore` of the same image from an encrypted restic repository and against
 *      `cat image > /dev/null`; peak RSS of each command (`/usr/bin/time -f %M`) and the allocated size of what
 *      each wrote (holes stay holes);
 *   2. `lifeboat files cat` of a 1 GiB random file inside an ext4 image (mkfs.ext4 -d) backed up with backup-file:
 *      time to first byte and total time, against `cat` of the same file's bytes;
 *   3. the same export from an S3 repository on s3rver, and on a Ceph RADOS Gateway when Ceph is installed, against
 *      one S3 GET of one object of the image's size from the same server (bench-restore-s3.ts);
 *   4. `lifeboat --version` wall time against `node -e 0` (the CLI's own start-up, issue 20);
 *   5. over SSH to the namespace test host (bench-restore-ssh.ts; root, libvirt): the same export from an encrypted
 *      SFTP repository on that host against `ssh root@host cat IMAGE > FILE`, and a whole-VM restore (`lifeboat
 *      restore POINT --to-host H --as NAME --storage DIR`) of a cold point of a libvirt domain whose raw disk is the
 *      image, against `ssh root@host 'cat > DIR/FILE' < IMAGE` (and that plus `sync`); both targets ≥ 80 %.
 *   node --import tsx bench/bench-restore.ts [--size-mib 2048] [--file-mib 1024] [--repeat 3] [--no-s3] [--no-ceph] [--no-ssh] [--keep]
 * Rounds interleave the tools and each figure is the best of `--repeat`: the machine is shared. CPU-seconds are
 * printed beside wall times because on a loaded machine they are the steadier comparison.
 */
import { execFile, spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { writeBenchImage } from './bench-image.js'
import { bundleForNode } from '../engine/repository/testing/bundle.js'
import { seededBytes } from '../engine/disks/testing/tools.js'
import { best, dropCaches, measure, type Measured, numberOption } from './measure-command.js'
import { s3Export } from './bench-restore-s3.js'
import { sshRestore } from './bench-restore-ssh.js'

const run = promisify(execFile)
const args = process.argv.slice(2)
const opt = (name: string, def: number): number => numberOption(args, name, def)
const sizeMiB = opt('size-mib', 2048)
const fileMiB = opt('file-mib', 1024)
const repeat = Math.max(1, opt('repeat', 3))
const keep = args.includes('--keep')
const PASS = 'bench-passphrase'
const MiB = 1024 * 1024

async function allocated(file: string): Promise<number> {
  const { stdout } = await run('du', ['-B1', file])
  return Number(stdout.split('\t')[0])
}

const rate = (mib: number, m: Measured): string => `${(mib / m.seconds).toFixed(0)} MiB/s (${m.seconds.toFixed(2)} s)`
/** The least CPU any run needed: on a shared machine wall time varies with the load, CPU-seconds much less. */
const cpu = (runs: readonly Measured[]): string => {
  const least = Math.min(...runs.map((m) => m.cpuSeconds ?? Infinity))
  return Number.isFinite(least) ? least.toFixed(2) : ''
}
const rss = (m: Measured): string => (m.maxRssMiB === undefined ? '' : `${m.maxRssMiB.toFixed(0)} MiB`)

const dir = await mkdtemp(path.join(tmpdir(), 'lifeboat-bench-restore-'))
const lines: string[] = []
const checks: [string, boolean][] = []
let cold = true
try {
  // Lifeboat runs as it ships (esbuild bundle, workers included), built once here: bin/lifeboat.mjs would rebuild
  // dist/node whenever a source is newer, and on a checkout others are editing that rebuild would land in a timing.
  const bundleDir = path.join(dir, 'dist')
  await bundleForNode(bundleDir, [
    { in: 'engine/cli/entry.ts', out: 'lifeboat' },
    { in: 'bench/s3-get.ts', out: 's3-get' },
  ])
  const bin = path.join(bundleDir, 'cli.mjs')
  await writeFile(bin, "import { main } from './lifeboat.js'\nawait main()\n")
  const home = path.join(dir, 'home')
  const env = { LIFEBOAT_HOME: home, LIFEBOAT_REPO_PASSPHRASE: PASS }
  const lifeboat = (argv: readonly string[]): Promise<string> =>
    run(process.execPath, [bin, ...argv, '--home', home], { env: { ...process.env, ...env }, maxBuffer: 64 * MiB }).then((r) => r.stdout)
  {
    const init = spawn(process.execPath, [bin, 'repo', 'init', '--passphrase-stdin', '--home', home], { env: { ...process.env, ...env }, stdio: ['pipe', 'ignore', 'inherit'] })
    init.stdin.end(`${PASS}\n`)
    const code = await new Promise<number | null>((resolve) => init.on('close', resolve))
    if (code !== 0) throw new Error(`lifeboat repo init exited ${code}`)
  }

  const image = path.join(dir, 'disk.img')
  console.log(`Building a ${sizeMiB} MiB mixed image in ${dir} …`)
  const kinds = await writeBenchImage(image, sizeMiB)
  console.log(`  zeros ${kinds.filter((k) => k === 'zero').length} MiB, random ${kinds.filter((k) => k === 'random').length} MiB, text ${kinds.filter((k) => k === 'text').length} MiB`)
  const point = JSON.parse(await lifeboat(['backup-file', image, '--json'])) as { id: string }
  const resticRepo = path.join(dir, 'restic-repo')
  const resticEnv = { RESTIC_PASSWORD: PASS, RESTIC_CACHE_DIR: path.join(dir, 'restic-cache') }
  await run('restic', ['init', '--repo', resticRepo], { env: { ...process.env, ...resticEnv } })
  // Backed up by a relative name from `dir`, so the restore puts the file at TARGET/disk.img.
  await run('restic', ['backup', '--repo', resticRepo, 'disk.img'], { cwd: dir, env: { ...process.env, ...resticEnv } })
  const { stdout: resticVersion } = await run('restic', ['version'])

  const exported = path.join(dir, 'export.raw')
  const resticTarget = path.join(dir, 'restic-out')
  type Tool = { name: string; cmd: () => [string, string[], NodeJS.ProcessEnv]; output?: string }
  const tools: Tool[] = [
    { name: 'lifeboat points export --format raw', cmd: () => [process.execPath, [bin, 'points', 'export', point.id, '--format', 'raw', '--out', exported, '--home', home], env], output: exported },
    { name: `restic restore (${resticVersion.split(' ')[1] ?? '?'})`, cmd: () => ['restic', ['restore', '--repo', resticRepo, 'latest', '--target', resticTarget], resticEnv], output: path.join(resticTarget, 'disk.img') },
    { name: 'cat image > /dev/null', cmd: () => ['sh', ['-c', 'cat "$1" > /dev/null', 'sh', image], {}] },
  ]
  const results = new Map<string, { runs: Measured[]; allocated?: number }>()
  for (let r = 1; r <= repeat; r++) {
    console.log(`Round ${r} of ${repeat}`)
    for (const tool of tools) {
      await rm(resticTarget, { recursive: true, force: true })
      await rm(exported, { force: true })
      cold = (await dropCaches()) && cold
      const [cmd, argv, extraEnv] = tool.cmd()
      const m = await measure(cmd, argv, extraEnv)
      const entry = results.get(tool.name) ?? { runs: [] }
      entry.runs.push(m)
      if (tool.output !== undefined) entry.allocated = await allocated(tool.output)
      results.set(tool.name, entry)
      console.log(`  ${tool.name}: ${m.seconds.toFixed(2)} s, peak RSS ${rss(m)}`)
      if (r === 1 && tool.output !== undefined) {
        // Once each: what was restored is the image, byte for byte.
        await run('cmp', [image, tool.output])
        console.log(`  ${tool.name}: identical to the image (cmp)`)
      }
    }
  }
  await rm(resticTarget, { recursive: true, force: true })
  await rm(exported, { force: true })
  const imageAllocated = await allocated(image)
  const zeroMiB = kinds.filter((k) => k === 'zero').length
  lines.push(`Export of the ${sizeMiB} MiB mixed image (${zeroMiB} MiB zeros; image file ${(imageAllocated / MiB).toFixed(0)} MiB allocated), encrypted repositories, best of ${repeat}:`)
  lines.push(`${'command'.padEnd(38)} ${'rate (time)'.padEnd(22)} ${'peak RSS'.padEnd(9)} ${'CPU (s)'.padEnd(8)} allocated   all runs (s)`)
  for (const [name, r] of results) {
    const b = best(r.runs)
    const alloc = r.allocated === undefined ? '' : `${(r.allocated / MiB).toFixed(0)} MiB`
    lines.push(`${name.padEnd(38)} ${rate(sizeMiB, b).padEnd(22)} ${rss(b).padEnd(9)} ${cpu(r.runs).padEnd(8)} ${alloc.padEnd(11)} ${r.runs.map((m) => m.seconds.toFixed(2)).join(' ')}`)
  }
  const [lb, re, cat] = tools.map((t) => results.get(t.name))
  if (lb !== undefined && re !== undefined && cat !== undefined) {
    const lbS = best(lb.runs).seconds
    const peak = Math.max(...lb.runs.map((m) => m.maxRssMiB ?? Infinity))
    checks.push([`export vs restic restore ${(best(re.runs).seconds / lbS).toFixed(2)}× (target ≥ 2×)`, best(re.runs).seconds / lbS >= 2])
    checks.push([`export CPU ${cpu(lb.runs)} s vs restic restore ${cpu(re.runs)} s (reported: the same work on any load)`, true])
    checks.push([`export vs cat of the image ${((best(cat.runs).seconds / lbS) * 100).toFixed(0)} % of cat's rate (reported)`, true])
    checks.push([`export peak RSS ${peak.toFixed(0)} MiB over all runs (target < 512 MiB)`, peak < 512])
    const holes = (lb.allocated ?? Infinity) <= imageAllocated - (zeroMiB - 8 * Math.ceil(zeroMiB / 16)) * MiB
    checks.push([`export allocates ${((lb.allocated ?? 0) / MiB).toFixed(0)} MiB of ${sizeMiB} MiB: zero chunks stay holes`, holes])
  }

  // The CLI's own start-up (issue 20 point 3), warm: what every cron job and script pays before any work.
  {
    const versionRuns: Measured[] = []
    const nodeRuns: Measured[] = []
    for (let r = 0; r < 5; r++) {
      versionRuns.push(await measure(process.execPath, [bin, '--version'], env))
      nodeRuns.push(await measure(process.execPath, ['-e', '0'], {}))
    }
    const v = best(versionRuns).seconds
    lines.push('', `lifeboat --version (warm, best of 5): ${(v * 1000).toFixed(0)} ms, CPU ${cpu(versionRuns)} s; node -e 0: ${(best(nodeRuns).seconds * 1000).toFixed(0)} ms`)
    checks.push([`lifeboat --version ${(v * 1000).toFixed(0)} ms (target < 300 ms)`, v < 0.3])
  }

  // Part 2: one big file out of a filesystem inside a restore point.
  const src = path.join(dir, 'ext4-src')
  await mkdir(src)
  const big = path.join(src, 'big.bin')
  {
    const block = seededBytes(64 * MiB, 99)
    const { open } = await import('node:fs/promises')
    const fh = await open(big, 'w')
    try {
      for (let at = 0; at < fileMiB * MiB; at += block.length) {
        block.writeUInt32LE(at / block.length, 0)
        await fh.write(block, 0, Math.min(block.length, fileMiB * MiB - at), at)
      }
    } finally {
      await fh.close()
    }
  }
  const ext4 = path.join(dir, 'ext4.img')
  await run('mkfs.ext4', ['-q', '-F', '-d', src, ext4, `${fileMiB + 128}M`])
  const ext4Point = JSON.parse(await lifeboat(['backup-file', ext4, '--name', 'ext4-bench', '--json'])) as { id: string }
  const catRuns: Measured[] = []
  const fileRuns: Measured[] = []
  // What any command pays before its first byte (start the bundled CLI, open the encrypted repository, list):
  // the part of the time to first byte that is not the file's.
  const startRuns: Measured[] = []
  for (let r = 1; r <= repeat; r++) {
    cold = (await dropCaches()) && cold
    startRuns.push(await measure(process.execPath, [bin, 'points', 'list', '--home', home], env))
    cold = (await dropCaches()) && cold
    fileRuns.push(await measure(process.execPath, [bin, 'files', 'cat', ext4Point.id, '/big.bin', '--home', home], env, fileMiB * MiB))
    cold = (await dropCaches()) && cold
    catRuns.push(await measure('cat', [big], {}, fileMiB * MiB))
    console.log(`  files cat: ${fileRuns.at(-1)?.seconds.toFixed(2)} s (first byte ${fileRuns.at(-1)?.firstByteSeconds?.toFixed(3)} s); cat: ${catRuns.at(-1)?.seconds.toFixed(2)} s`)
  }
  const fb = best(fileRuns)
  const cb = best(catRuns)
  const firstByte = Math.min(...fileRuns.map((m) => m.firstByteSeconds ?? Infinity))
  lines.push('')
  lines.push(`files cat of a ${fileMiB} MiB random file in ext4 inside a restore point (cold), best of ${repeat}:`)
  lines.push(`  lifeboat files cat: first byte ${firstByte.toFixed(3)} s, total ${rate(fileMiB, fb)}, peak RSS ${rss(fb)}, CPU ${cpu(fileRuns)} s; runs ${fileRuns.map((m) => m.seconds.toFixed(2)).join(' ')}`)
  lines.push(`  lifeboat points list (start-up and opening the repository, cold): ${best(startRuns).seconds.toFixed(3)} s, CPU ${cpu(startRuns)} s`)
  lines.push(`  cat of the same file (plain file, cold): first byte ${(Math.min(...catRuns.map((m) => m.firstByteSeconds ?? Infinity))).toFixed(3)} s, total ${rate(fileMiB, cb)}`)
  checks.push([`files cat ${((cb.seconds / fb.seconds) * 100).toFixed(0)} % of cat's rate, first byte ${(firstByte * 1000).toFixed(0)} ms (reported)`, true])
  checks.push([`files cat peak RSS ${Math.max(...fileRuns.map((m) => m.maxRssMiB ?? Infinity)).toFixed(0)} MiB (target < 512 MiB)`, fileRuns.every((m) => (m.maxRssMiB ?? Infinity) < 512)])
  await rm(ext4, { force: true })
  await rm(src, { recursive: true, force: true })

  // Part 3: from object storage.
  if (!args.includes('--no-s3')) {
    const s3 = await s3Export({ dir, bin, home, env, image, sizeMiB, repeat, dropCaches: async () => (cold = (await dropCaches()) && cold) }, { ceph: !args.includes('--no-ceph') })
    lines.push('', ...s3.lines)
    checks.push(...s3.checks)
  }

  // Part 5: over SSH to the namespace test host (needs root and libvirt).
  if (!args.includes('--no-ssh')) {
    const ssh = await sshRestore({ dir, bin, home, env, image, sizeMiB, repeat, dropCaches: async () => (cold = (await dropCaches()) && cold) })
    lines.push('', ...ssh.lines)
    checks.push(...ssh.checks)
  }
} finally {
  if (keep) console.log(`Kept ${dir}`)
  else await rm(dir, { recursive: true, force: true })
}
const { stdout: load } = await run('uptime')
console.log(`\n${new Date().toISOString().slice(0, 10)}, load: ${load.trim()}`)
console.log(`caches: ${cold ? 'dropped before every timed command (cold)' : 'NOT dropped (not root?): warm runs'}`)
for (const line of lines) console.log(line)
console.log('')
for (const [text, ok] of checks) console.log(`${ok ? 'PASS' : 'MISS'}  ${text}`)
