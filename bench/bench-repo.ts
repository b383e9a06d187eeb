/**
 * Benchmark: Lifeboat against restic and borg on several kinds of disk (bench-mixes.ts), the same bytes for each
 * tool: first backup, then again after 1 % of the disk's 1 MiB blocks changed. Lifeboat is measured twice: its
 * ingest in a child process of its own (`ingest-measured`, the "in-process" figure, start-up included) and the whole
 * `lifeboat backup-file` command from process start to exit, both as they ship (bundled, workers included).
 *
 * Run: node --import tsx bench/bench-repo.ts [--mixes mixed,sparse,…] [--size-mib N] [--keep] [--plain]
 * Sizes come from the environment (bench-mixes.ts sizesFromEnv): LIFEBOAT_BENCH_MIB, LIFEBOAT_BENCH_SPARSE_MIB,
 * LIFEBOAT_BENCH_SPARSE_WRITTEN_MIB, LIFEBOAT_BENCH_ROOTFS_MIB; LIFEBOAT_BENCH_SCRATCH_MIB sizes the cache-settling
 * write. Each figure is one measurement: on a shared machine read them as indicative.
 */
import { execFile, spawn } from 'node:child_process'
import { createReadStream } from 'node:fs'
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { promisify } from 'node:util'
import { bundleForNode } from '../engine/repository/testing/bundle.js'
import { benchMixes, sizesFromEnv, type BuiltMix } from './bench-mixes.js'
import { measure } from './measure-command.js'

const run = promisify(execFile)
const args = process.argv.slice(2)
const option = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined)
const keep = args.includes('--keep')
const encrypted = !args.includes('--plain')
const sizes = sizesFromEnv(process.env, Number(option('--size-mib')) || 2048)
const only = option('--mixes')?.split(',')
const scratchMiB = Number(process.env.LIFEBOAT_BENCH_SCRATCH_MIB) || 1024
const PASS = 'bench-passphrase'

interface Timed {
  readonly seconds: number
  readonly maxRssMiB?: number
  readonly detail?: string
}

interface Tool {
  readonly name: string
  init(repo: string): Promise<void>
  backup(repo: string, image: string, round: string): Promise<Timed>
}

/**
 * Before each timed backup, the same for every tool: write back dirty pages; write and delete a scratch file (this VM
 * hands reclaimed memory back to its host, and the first writer to need fresh page-cache pages pays for them); read
 * the image once, so no tool measures the disk instead of itself.
 */
async function settle(dir: string, image: string): Promise<void> {
  await run('sync')
  const scratch = path.join(dir, 'scratch.bin')
  const handle = await open(scratch, 'w')
  const block = Buffer.alloc(4 * 1024 * 1024, 1)
  for (let i = 0; i < scratchMiB / 4; i++) await handle.write(block, 0, block.length, i * block.length)
  await handle.close()
  await rm(scratch)
  await run('sync')
  await pipeline(createReadStream(image, { highWaterMark: 4 * 1024 * 1024 }), new Writable({ write: (_c, _e, cb) => cb() }))
}

async function du(dir: string): Promise<number> {
  const { stdout } = await run('du', ['-sb', dir])
  return Number(stdout.split('\t')[0])
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`
const mib = (bytes: number | undefined): string => `${((bytes ?? 0) / 1024 / 1024).toFixed(0)} MiB`

function tools(dir: string, bundleDir: string): Tool[] {
  const resticEnv = { RESTIC_PASSWORD: PASS, RESTIC_CACHE_DIR: path.join(dir, 'restic-cache') }
  const borgEnv = { BORG_PASSPHRASE: PASS, BORG_BASE_DIR: path.join(dir, 'borg-home'), BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes' }
  const initLifeboat = (repo: string): Promise<void> => run(process.execPath, [path.join(bundleDir, 'init-repo.js'), repo, ...(encrypted ? [PASS] : [])]).then(() => undefined)
  return [
    {
      name: 'lifeboat',
      init: initLifeboat,
      backup: async (repo, image) => {
        const start = process.hrtime.bigint()
        const child = spawn(process.execPath, [path.join(bundleDir, 'ingest-measured.js'), repo, image, ...(encrypted ? [PASS] : [])], { stdio: ['ignore', 'pipe', 'inherit'] })
        let out = ''
        child.stdout.on('data', (d: Buffer) => (out += d.toString()))
        const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
        if (code !== 0) throw new Error(`lifeboat ingest failed (exit ${code}): ${out}`)
        const seconds = Number(process.hrtime.bigint() - start) / 1e9
        const r = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { ingestSeconds: number; cpuSeconds: number; maxRssKiB: number; stats: { bytesRead: number; bytesHoles?: number; bytesZero?: number; bytesNew: number } }
        const detail = `ingest ${r.ingestSeconds.toFixed(2)} s, CPU ${r.cpuSeconds.toFixed(2)} s; read ${mib(r.stats.bytesRead)}, holes ${mib(r.stats.bytesHoles)}, zeros ${mib(r.stats.bytesZero)}, new ${mib(r.stats.bytesNew)}`
        return { seconds, maxRssMiB: r.maxRssKiB / 1024, detail }
      },
    },
    {
      name: 'lifeboat-cli',
      init: initLifeboat,
      backup: async (repo, image) => {
        const home = path.join(dir, 'cli-home')
        await mkdir(home, { recursive: true })
        const m = await measure(process.execPath, [path.join(bundleDir, 'lifeboat.mjs'), 'backup-file', image, '--repo', repo, '--home', home], encrypted ? { LIFEBOAT_REPO_PASSPHRASE: PASS } : {})
        return { seconds: m.seconds, ...(m.maxRssMiB !== undefined ? { maxRssMiB: m.maxRssMiB } : {}) }
      },
    },
    {
      name: 'restic',
      init: (repo) => run('restic', ['init', '--repo', repo], { env: { ...process.env, ...resticEnv } }).then(() => undefined),
      backup: async (repo, image) => measure('restic', ['backup', '--repo', repo, image], resticEnv),
    },
    {
      name: 'borg',
      init: (repo) => run('borg', ['init', '-e', encrypted ? 'repokey' : 'none', repo], { env: { ...process.env, ...borgEnv } }).then(() => undefined),
      backup: async (repo, image, round) => measure('borg', ['create', '-C', 'zstd,3', `${repo}::${round}`, image], borgEnv),
    },
  ]
}

interface ToolResult {
  first: Timed
  second: Timed
  size1: number
  size2: number
}

async function benchMix(dir: string, built: BuiltMix, list: readonly Tool[]): Promise<Record<string, ToolResult>> {
  const results: Record<string, Partial<ToolResult>> = {}
  for (const tool of list) {
    const repo = path.join(dir, `repo-${tool.name}`)
    await tool.init(repo)
    await settle(dir, built.image)
    const first = await tool.backup(repo, built.image, 'first')
    results[tool.name] = { first, size1: await du(repo) }
    console.log(`  ${tool.name.padEnd(12)} first  ${first.seconds.toFixed(2).padStart(7)} s${first.detail !== undefined ? `  (${first.detail})` : ''}`)
  }
  const changed = await built.change()
  console.log(`  changed ${changed}`)
  for (const tool of list) {
    const repo = path.join(dir, `repo-${tool.name}`)
    await settle(dir, built.image)
    const second = await tool.backup(repo, built.image, 'second')
    const entry = results[tool.name] ?? {}
    entry.second = second
    entry.size2 = await du(repo)
    console.log(`  ${tool.name.padEnd(12)} second ${second.seconds.toFixed(2).padStart(7)} s${second.detail !== undefined ? `  (${second.detail})` : ''}`)
    await rm(repo, { recursive: true, force: true })
  }
  return results as Record<string, ToolResult>
}

function report(name: string, r: Record<string, ToolResult>): string[] {
  const lines: string[] = []
  const re = r.restic
  console.log(`  tool         first (s)  second (s)  repo after 1st  repo after 2nd  peak RSS`)
  for (const [tool, t] of Object.entries(r)) {
    const rss = Math.max(t.first.maxRssMiB ?? 0, t.second.maxRssMiB ?? 0)
    console.log(`  ${tool.padEnd(12)} ${t.first.seconds.toFixed(2).padStart(9)}  ${t.second.seconds.toFixed(2).padStart(10)}  ${mb(t.size1).padStart(14)}  ${mb(t.size2).padStart(14)}  ${rss.toFixed(0).padStart(5)} MiB`)
  }
  if (re === undefined) return lines
  for (const tool of ['lifeboat', 'lifeboat-cli']) {
    const lb = r[tool]
    if (lb === undefined) continue
    const f = re.first.seconds / lb.first.seconds
    const s = re.second.seconds / lb.second.seconds
    const size = lb.size2 / re.size2
    const rss = Math.max(lb.first.maxRssMiB ?? 0, lb.second.maxRssMiB ?? 0)
    const ok = (b: boolean): string => (b ? 'PASS' : 'MISS')
    lines.push(
      `${name.padEnd(13)} ${tool.padEnd(12)} first ${f.toFixed(2)}× ${ok(f >= 2)}  second ${s.toFixed(2)}× ${ok(s >= 2)}  repo ${(size * 100).toFixed(1)} % of restic ${ok(size <= 1.05)}  RSS ${rss.toFixed(0)} MiB ${ok(rss < 512)}`,
    )
  }
  return lines
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lifeboat-bench-'))
  const summary: string[] = []
  try {
    const bundleDir = path.join(dir, 'dist')
    await bundleForNode(bundleDir, [
      { in: 'bench/ingest-measured.ts', out: 'ingest-measured' },
      { in: 'bench/init-repo.ts', out: 'init-repo' },
      { in: 'engine/cli/entry.ts', out: 'lifeboat' },
    ])
    // What bin/lifeboat.mjs does once the bundle is built: the command as users start it.
    await writeFile(path.join(bundleDir, 'lifeboat.mjs'), "const { main } = await import('./lifeboat.js')\nawait main()\n")
    const list = tools(dir, bundleDir)
    const mixes = benchMixes(sizes).filter((m) => only === undefined || only.includes(m.name))
    console.log(`Lifeboat vs restic and borg, ${encrypted ? 'encrypted' : 'plain'} repositories, in ${dir}`)
    for (const mix of mixes) {
      const mixDir = path.join(dir, mix.name)
      await mkdir(mixDir, { recursive: true })
      const built = await mix.build(mixDir, (line) => console.log(line))
      console.log(`\n${mix.name}: ${built.note}`)
      summary.push(...report(mix.name, await benchMix(mixDir, built, list)))
      if (!keep) await rm(mixDir, { recursive: true, force: true })
    }
    console.log(`\nAgainst restic (speed-up = restic's time / Lifeboat's; targets ≥ 2×, repository ≤ 105 %, RSS < 512 MiB):`)
    for (const line of summary) console.log(line)
  } finally {
    if (keep) console.log(`Kept ${dir}`)
    else await rm(dir, { recursive: true, force: true })
  }
}

await main()
