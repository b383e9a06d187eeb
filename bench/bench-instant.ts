/**
 * `npm run bench:instant` — so far the NBD half of issue 17's benchmark: reading a restore point's disk through
 * `lifeboat points serve` (qemu-img convert -t none from the NBD export: unbuffered output, as the export writes)
 * against `lifeboat points export --format raw` of the same disk, in the same run, both as a user runs them (the
 * whole CLI command, caches dropped before each); qemu-img with its default (page-cache) output is reported beside.
 *   node --import tsx bench/bench-instant.ts [--size-mib 2048] [--sparse-gib 20] [--plain]
 * Two points: a mixed image (zeros, random, text; encrypted repository unless --plain) and a large sparse one (1 %
 * data). Target: NBD ≥ 80 % of the export's rate. Then the "run" half (bench-instant-run.ts): seconds from
 * `points run` to the VM running on the libvirt test host, for the tiny guest's disk grown to 2 and 20 GiB (sparse);
 * `--no-run` skips it, `--run-only` measures only it.
 */
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { promisify } from 'node:util'
import { randomBytes } from 'node:crypto'
import { writeBenchImage } from './bench-image.js'
import { benchInstantRun, type RunRow } from './bench-instant-run.js'
import { dropCaches, numberOption } from './measure-command.js'

const run = promisify(execFile)
const args = process.argv.slice(2)
const opt = (name: string, def: number): number => numberOption(args, name, def)
const sizeMiB = opt('size-mib', 2048)
const sparseGiB = opt('sparse-gib', 20)
const encrypted = !args.includes('--plain')
const root = path.resolve(import.meta.dirname, '..')
const bin = path.join(root, 'bin', 'lifeboat.mjs')
const MiB = 1024 * 1024

function env(home: string): NodeJS.ProcessEnv {
  return { ...process.env, LIFEBOAT_HOME: home, ...(encrypted ? { LIFEBOAT_REPO_PASSPHRASE: 'bench-passphrase' } : {}) }
}

async function cli(home: string, argv: readonly string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [bin, ...argv, '--home', home], { env: env(home), maxBuffer: 64 * MiB })
  return stdout
}

async function sparseImage(file: string, gib: number): Promise<void> {
  const fh = await open(file, 'w')
  try {
    await fh.truncate(gib * 1024 * MiB)
    // 1 % data, spread out: 1 MiB of random bytes every 100 MiB.
    for (let at = 0; at + MiB <= gib * 1024 * MiB; at += 100 * MiB) await fh.write(randomBytes(MiB), 0, MiB, at)
  } finally {
    await fh.close()
  }
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now()
  await fn()
  return (performance.now() - t0) / 1000
}

/**
 * Starts `points serve`, waits for its URI, runs `use`, stops it with SIGTERM. Returns the seconds from the start to
 * `use` having finished: stopping the server afterwards is not part of reading the disk.
 */
async function withServe(home: string, pointId: string, socket: string, use: (uri: string) => Promise<void>): Promise<number> {
  const t0 = performance.now()
  const child = spawn(process.execPath, [bin, 'points', 'serve', pointId, '--nbd', `unix:${socket}`, '--home', home], { env: env(home), stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
  try {
    while (!out.includes('\n')) {
      if (child.exitCode !== null) throw new Error('points serve ended before printing its URI')
      await new Promise((r) => setTimeout(r, 20))
    }
    await use(out.split('\n')[0] ?? '')
    return (performance.now() - t0) / 1000
  } finally {
    child.kill('SIGTERM')
    await exited
  }
}

const dir = await mkdtemp(path.join(tmpdir(), 'lifeboat-bench-instant-'))
let cold = true
const rows: { name: string; sizeGiB: number; exportS: number; nbdS: number; nbdCachedS: number }[] = []
let runRows: RunRow[] | string = 'skipped (--no-run)'
try {
  const home = path.join(dir, 'home')
  if (encrypted) {
    // The passphrase on stdin, as `repo init` wants it (LIFEBOAT_REPO_PASSPHRASE opens the repository afterwards).
    const init = spawn(process.execPath, [bin, 'repo', 'init', '--passphrase-stdin', '--home', home], { env: env(home), stdio: ['pipe', 'ignore', 'inherit'] })
    init.stdin.end('bench-passphrase\n')
    const code = await new Promise<number | null>((resolve) => init.on('close', resolve))
    if (code !== 0) throw new Error(`repo init exited ${code}`)
  }
  for (const kind of args.includes('--run-only') ? [] : (['mixed', 'sparse'] as const)) {
    const image = path.join(dir, `${kind}.raw`)
    if (kind === 'mixed') await writeBenchImage(image, sizeMiB)
    else await sparseImage(image, sparseGiB)
    const point = JSON.parse(await cli(home, ['backup-file', image, '--json'])) as { id: string; disks: { size: number }[] }
    await rm(image)
    const size = point.disks[0]?.size ?? 0
    cold = (await dropCaches()) && cold
    const out = path.join(dir, 'export.raw')
    const exportS = await timed(() => cli(home, ['points', 'export', point.id, '--format', 'raw', '--out', out]))
    await rm(out, { force: true })
    // From starting `points serve` to qemu-img having the whole disk: both sides pay for starting their command.
    // `-t none`: qemu-img writes its output unbuffered (O_DIRECT), as `points export` does; through the page cache
    // (qemu-img's default) it spends more system time copying into fresh cache pages than it waits for the server
    // (measured on these VMs: 1.7–3.9 s of 2 GiB, vs 0.5 s), which is the writer's cost, not the NBD export's.
    // That default is measured too and reported beside it.
    const serveAndConvert = async (cache: string[]): Promise<number> => {
      cold = (await dropCaches()) && cold
      const seconds = await withServe(home, point.id, path.join(dir, 'bench.sock'), (uri) => run('qemu-img', ['convert', ...cache, '-O', 'raw', uri, out]).then(() => undefined))
      await rm(out, { force: true })
      return seconds
    }
    const nbdS = await serveAndConvert(['-t', 'none'])
    const nbdCachedS = await serveAndConvert([])
    rows.push({ name: kind === 'mixed' ? `mixed ${sizeMiB} MiB${encrypted ? ', encrypted' : ''}` : `sparse ${sparseGiB} GiB (1 % data)`, sizeGiB: size / 1024 ** 3, exportS, nbdS, nbdCachedS })
    console.log(`${kind}: export ${exportS.toFixed(1)} s, NBD (qemu-img convert -t none) ${nbdS.toFixed(1)} s, with qemu-img's default cache ${nbdCachedS.toFixed(1)} s`)
  }
  if (!args.includes('--no-run')) runRows = await benchInstantRun(bin, [2, sparseGiB])
} finally {
  await rm(dir, { recursive: true, force: true })
}
console.log(`\ncaches: ${cold ? 'dropped before every timed run (cold)' : 'NOT dropped (not root?): warm runs'}`)
console.log('point                              points export raw      NBD → qemu-img -t none   NBD / export   target        qemu-img default cache')
for (const r of rows) {
  const exportRate = (r.sizeGiB * 1024) / r.exportS
  const nbdRate = (r.sizeGiB * 1024) / r.nbdS
  const ratio = nbdRate / exportRate
  const cachedRate = (r.sizeGiB * 1024) / r.nbdCachedS
  console.log(
    `${r.name.padEnd(34)} ${`${exportRate.toFixed(0)} MiB/s (${r.exportS.toFixed(1)} s)`.padEnd(22)} ${`${nbdRate.toFixed(0)} MiB/s (${r.nbdS.toFixed(1)} s)`.padEnd(24)} ${(ratio * 100).toFixed(0).padStart(6)} %   ≥ 80 %: ${ratio >= 0.8 ? 'ok    ' : 'MISSED'}   ${cachedRate.toFixed(0)} MiB/s (${r.nbdCachedS.toFixed(1)} s, ${((cachedRate / exportRate) * 100).toFixed(0)} %)`,
  )
}
console.log('\npoints run (tiny guest, disk grown sparse)   VM running    guest agent answers')
if (typeof runRows === 'string') console.log(`  not measured: ${runRows}`)
else for (const r of runRows) console.log(`${`${r.sizeGiB} GiB`.padEnd(44)} ${`${r.runningS.toFixed(1)} s`.padEnd(13)} ${r.agentS.toFixed(1)} s`)
