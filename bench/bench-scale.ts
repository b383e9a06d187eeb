/**
 * `npm run bench:scale` — a repository that has kept a year of restore points (issue 19 point 2). The benchmark builds
 * one encrypted local repository of 50 VMs, each with a 4 GiB disk of which two 4 MiB chunks hold data (one per VM
 * that never changes, one that changes every 10th backup: small disks sharing chunks), backed up every ~9 days over a
 * year. At 200 points and again at 2,000 (the same repository, grown) it times whole commands as an admin runs them,
 * the page cache dropped before each, with peak RSS:
 *   points list; points list --vm NAME (the app's restore-points list for one VM is the same call, points.list
 *   {vm}); repo info; repo verify --point P (one point); repo prune with GFS rules (--dry-run, so both sizes prune the
 *   same history); repo gc --dry-run;
 * and at 2,000 the real prune and gc after them. Growth is printed as the ratio of the 2,000 figure to the 200 one.
 *   node --import tsx bench/bench-scale.ts [--points 2000] [--vms 50] [--repeat 2] [--keep]
 * Targets: listing < 1 s at 2,000 points; memory grows with what is shown, not with the whole history.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { promisify } from 'node:util'
import { bundleForNode } from '../engine/repository/testing/bundle.js'
import { seededBytes } from '../engine/disks/testing/tools.js'
import { initRepository, openRepository } from '../engine/repository/repository.js'
import { localBackend } from '../engine/repository/backends/local-backend.js'
import { CHUNK_SIZE } from '../engine/repository/format.js'
import { best, dropCaches, measure, type Measured, numberOption } from './measure-command.js'

const run = promisify(execFile)
const args = process.argv.slice(2)
const opt = (name: string, def: number): number => numberOption(args, name, def)
const totalPoints = opt('points', 2000)
const vms = opt('vms', 50)
const smallPoints = Math.max(vms, Math.round(totalPoints / 10))
const repeat = Math.max(1, opt('repeat', 2))
const keep = args.includes('--keep')
const PASS = 'bench-passphrase'
const DAY = 86_400_000
const DISK_SIZE = 4 * 1024 * 1024 * 1024
/** The changing chunk sits in the middle of the disk; everything but the two data chunks is a hole. */
const MIDDLE = Math.floor(DISK_SIZE / CHUNK_SIZE / 2) * CHUNK_SIZE

const dir = await mkdtemp(path.join(tmpdir(), 'lifeboat-bench-scale-'))
const repoDir = path.join(dir, 'repo')
const lines: string[] = []
try {
  const bundleDir = path.join(dir, 'dist')
  await bundleForNode(bundleDir, [{ in: 'engine/cli/entry.ts', out: 'lifeboat' }])
  const bin = path.join(bundleDir, 'cli.mjs')
  await writeFile(bin, "import { main } from './lifeboat.js'\nawait main()\n")
  const home = path.join(dir, 'home')
  const env = { LIFEBOAT_HOME: home, LIFEBOAT_REPO_PASSPHRASE: PASS }
  const lifeboatJson = async (argv: readonly string[]): Promise<unknown> => {
    const { stdout } = await run(process.execPath, [bin, ...argv, '--repo', repoDir, '--home', home, '--json'], { env: { ...process.env, ...env }, maxBuffer: 256 * 1024 * 1024 })
    return JSON.parse(stdout) as unknown
  }
  const timed = async (argv: readonly string[]): Promise<Measured> => {
    const runs: Measured[] = []
    for (let i = 0; i < repeat; i++) {
      await dropCaches()
      runs.push(await measure(process.execPath, [bin, ...argv, '--repo', repoDir, '--home', home, '--json'], env))
    }
    return best(runs)
  }

  let now = Date.now() - 366 * DAY
  const created = await initRepository({ backend: localBackend({ path: repoDir }), passphrase: PASS, clock: () => now })
  await created.close()
  const start = Date.now() - 365 * DAY
  const perVm = Math.ceil(totalPoints / vms)
  const every = (365 * DAY) / perVm
  let made = 0
  const pointIds: string[] = []
  /** Backs up, in time order, the points up to `upTo` (the k-th backup of every VM before the k+1-th). */
  const grow = async (upTo: number): Promise<number> => {
    const t0 = process.hrtime.bigint()
    const repo = await openRepository({ backend: localBackend({ path: repoDir }), passphrase: PASS, clock: () => now })
    try {
      for (; made < upTo; made++) {
        const k = Math.floor(made / vms)
        const v = made % vms
        now = start + k * every + v * 60_000
        const fixed = seededBytes(CHUNK_SIZE, 1_000 + v)
        const changing = seededBytes(CHUNK_SIZE, 100_000 + v * 1_000 + Math.floor(k / 10))
        const point = await repo.ingest({
          vm: { id: `vm-${String(v).padStart(3, '0')}`, name: `vm-${String(v).padStart(3, '0')}`, config: { memoryMiB: 2048, vcpus: 2 } },
          sourceHost: { name: `host-${v % 5}` },
          mode: 'hot',
          consistency: 'crash',
          disks: [
            {
              name: 'disk0',
              size: DISK_SIZE,
              dataRanges: [
                { offset: 0, length: CHUNK_SIZE },
                { offset: MIDDLE, length: CHUNK_SIZE },
              ],
              stream: Readable.from([fixed, changing]),
            },
          ],
        })
        pointIds.push(point.id)
      }
    } finally {
      await repo.close()
    }
    return Number(process.hrtime.bigint() - t0) / 1e9
  }

  const fmt = (m: Measured): string => `${m.seconds.toFixed(2)} s, ${m.maxRssMiB?.toFixed(0) ?? '?'} MiB`
  const gfs = ['--keep-daily', '7', '--keep-weekly', '4', '--keep-monthly', '12', '--keep-yearly', '2']
  const sizes = [smallPoints, totalPoints]
  const results = new Map<number, Record<string, Measured>>()
  for (const size of sizes) {
    const buildSeconds = await grow(size)
    const listed = (await lifeboatJson(['points', 'list'])) as unknown[]
    if (listed.length !== size) throw new Error(`points list gave ${listed.length} points, ${size} were written`)
    const oneVm = (await lifeboatJson(['points', 'list', '--vm', 'vm-007'])) as unknown[]
    const expectedOneVm = pointIds.filter((_, i) => i % vms === 7).length
    if (oneVm.length !== expectedOneVm) throw new Error(`points list --vm vm-007 gave ${oneVm.length} points, ${expectedOneVm} were written`)
    const onePoint = pointIds[Math.floor(pointIds.length / 2)] ?? ''
    const r: Record<string, Measured> = {
      'points list': await timed(['points', 'list']),
      'points list --vm (the app’s list of one VM)': await timed(['points', 'list', '--vm', 'vm-007']),
      'repo info': await timed(['repo', 'info']),
      'repo verify --point (one point)': await timed(['repo', 'verify', '--point', onePoint]),
      'repo prune GFS --dry-run': await timed(['repo', 'prune', ...gfs, '--dry-run']),
      'repo gc --dry-run': await timed(['repo', 'gc', '--dry-run']),
    }
    results.set(size, r)
    lines.push(`${size} points (${vms} VMs; built in ${buildSeconds.toFixed(0)} s):`)
    for (const [name, m] of Object.entries(r)) lines.push(`  ${name.padEnd(44)} ${fmt(m)}`)
  }
  // The real thing at the full size: prune by the rules, then reclaim the space.
  await dropCaches()
  const prune = await measure(process.execPath, [bin, 'repo', 'prune', ...gfs, '--repo', repoDir, '--home', home, '--json'], env)
  await dropCaches()
  const gc = await measure(process.execPath, [bin, 'repo', 'gc', '--repo', repoDir, '--home', home, '--json'], env)
  const left = ((await lifeboatJson(['points', 'list'])) as unknown[]).length
  lines.push(`  ${'repo prune GFS (for real)'.padEnd(44)} ${fmt(prune)} → ${left} points left`)
  lines.push(`  ${'repo gc (for real)'.padEnd(44)} ${fmt(gc)}`)

  const small = results.get(smallPoints) ?? {}
  const large = results.get(totalPoints) ?? {}
  lines.push(`growth from ${smallPoints} to ${totalPoints} points (×${(totalPoints / smallPoints).toFixed(0)} history): time ×, peak RSS ×`)
  for (const name of Object.keys(large)) {
    const a = small[name]
    const b = large[name]
    if (a === undefined || b === undefined) continue
    const rssGrowth = a.maxRssMiB !== undefined && b.maxRssMiB !== undefined ? (b.maxRssMiB / a.maxRssMiB).toFixed(2) : '?'
    lines.push(`  ${name.padEnd(44)} ×${(b.seconds / a.seconds).toFixed(2)}, ×${rssGrowth}`)
  }
  const list = large['points list']
  const listOne = large['points list --vm (the app’s list of one VM)']
  lines.push(`target: listing < 1 s at ${totalPoints} points — points list ${list?.seconds.toFixed(2) ?? '?'} s, one VM ${listOne?.seconds.toFixed(2) ?? '?'} s: ${(list?.seconds ?? Infinity) < 1 && (listOne?.seconds ?? Infinity) < 1 ? 'met' : 'NOT met'}`)
  console.log(lines.join('\n'))
} finally {
  if (keep) console.log(`kept: ${dir}`)
  else await rm(dir, { recursive: true, force: true })
}
