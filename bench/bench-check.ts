/**
 * `npm run bench:check` — issue 16's benchmark: how long a health check takes to say "Booted" for the tiny guest
 * (Debian cloud kernel, busybox, qemu-guest-agent) on the real libvirt test host (TCG), as the admin runs it: the whole
 * `lifeboat points check POINT --host H --json` command, page cache dropped before each round. The wall time is split
 * into the phases the verdict itself carries (restore = writing the disks as a temporary VM, boot = power-on to the
 * agent's answer, proof = screenshot and removal) and the rest: `connect` (inside the job: opening the repository and
 * the point, connecting to the host) and `start` (outside it: the process starting and loading, cold after the drop).
 *   node --import tsx bench/bench-check.ts [--repeat 3] [--timeout-sec 300]
 * Needs root, libvirt and the test peers (test-hosts).
 */
import { execFile } from 'node:child_process'
import { rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { promisify } from 'node:util'
import type { PointCheckDto } from '../engine/api/contract-checks'
import type { BackupResult } from '../engine/jobs/backup-job'
import { addRootHost, engineFixture } from '../engine/jobs/testing/linux-fixture'
import { lifeboatBin, runCli } from '../e2e/support/cli'
import { makeBlankDisk, makeTestDir } from '../test-hosts/data-disk'
import { ensureLibvirt } from '../test-hosts/libvirt'
import { startSshHost } from '../test-hosts/ssh-host'
import { createTestDomain } from '../test-hosts/test-domain'

const MiB = 1024 * 1024
const { values } = parseArgs({ options: { repeat: { type: 'string' }, 'timeout-sec': { type: 'string' } } })
const repeat = Math.max(1, Number(values.repeat ?? '3') || 3)
const timeoutSec = Math.max(30, Number(values['timeout-sec'] ?? '300') || 300)
const exec = promisify(execFile)

async function dropCaches(): Promise<boolean> {
  try {
    await exec('sync')
    await writeFile('/proc/sys/vm/drop_caches', '3\n')
    return true
  } catch {
    return false
  }
}

const sec = (ms: number) => (ms / 1000).toFixed(1)
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0

const libvirt = await ensureLibvirt()
const dir = await makeTestDir('lb-bench-check-')
const host = await startSshHost({ hostname: 'lb-bench-check' })
const fx = await engineFixture()
try {
  const domain = await createTestDomain({ disks: [{ path: await makeBlankDisk({ path: path.join(dir, 'boot.raw'), sizeBytes: 8 * MiB }), format: 'raw' }], dataDevice: 'none' })
  try {
    await addRootHost(fx, host, 'kvm1')
    const backup = await fx.call('backup.start', { host: 'kvm1', vm: domain.name, mode: 'cold' })
    const job = await fx.job(backup.jobId)
    if (job.state !== 'succeeded') throw new Error(`the backup of the tiny guest ${job.state}: ${job.error?.message ?? ''}`)
    const point = (job.result as unknown as BackupResult).id
    const rows: { wallMs: number; check: PointCheckDto }[] = []
    let dropped = true
    for (let round = 0; round < repeat; round++) {
      // A source checkout rebuilds the CLI bundle when sources changed: that must not land in the timed run (and a
      // rebuild by another command at the same moment can fail this one; it is tried again).
      for (let attempt = 1; ; attempt++) {
        const warm = await runCli(fx.home, ['points', 'list'])
        if (warm.code === 0) break
        if (attempt === 3) throw new Error(`lifeboat points list failed: ${warm.stderr}`)
        await new Promise((r) => setTimeout(r, 5000))
      }
      dropped = (await dropCaches()) && dropped
      const t0 = performance.now()
      const cli = await runCli(fx.home, ['points', 'check', point, '--host', 'kvm1', '--timeout', `${timeoutSec}s`, '--json'])
      const wallMs = performance.now() - t0
      if (cli.code !== 0) throw new Error(`round ${round + 1}: lifeboat points check exited ${String(cli.code)}: ${cli.stdout} ${cli.stderr}`)
      const check = JSON.parse(cli.stdout) as PointCheckDto
      if (check.verdict !== 'booted') throw new Error(`round ${round + 1}: ${check.summary}`)
      rows.push({ wallMs, check })
      console.log(`  round ${round + 1}: ${check.summary} — wall ${sec(wallMs)} s`)
    }
    const parts = (wallMs: number, c: PointCheckDto) => ({
      wall: wallMs,
      restore: c.timings.restoreMs,
      boot: c.timings.bootMs,
      proof: c.timings.proofMs,
      connect: c.timings.totalMs - c.timings.restoreMs - c.timings.bootMs - c.timings.proofMs,
      start: wallMs - c.timings.totalMs,
    })
    const head = ['wall', 'restore', 'boot', 'proof', 'connect', 'start'] as const
    const measured = rows.map((r) => parts(r.wallMs, r.check))
    const table = measured.map((m, i) => [String(i + 1), ...head.map((h) => sec(m[h]))])
    table.push(['median', ...head.map((h) => sec(median(measured.map((m) => m[h]))))])
    console.log(`\nHealth check of the tiny guest (${rows[0]?.check.host.name ?? 'kvm1'}, libvirt/TCG), seconds; caches ${dropped ? 'dropped' : 'NOT dropped (not root?)'} before each round; command: ${path.relative(process.cwd(), lifeboatBin)} points check POINT --host kvm1 --json`)
    console.log(['round', ...head].map((h) => h.padStart(8)).join(''))
    for (const r of table) console.log(r.map((x) => x.padStart(8)).join(''))
    console.log('connect = opening the repository and the point, connecting to the host; start = the CLI process starting (wall minus the job)')
  } finally {
    await domain.remove()
  }
} finally {
  await fx.dispose()
  await host.stop()
  await rm(dir, { recursive: true, force: true })
  await libvirt.stop()
}
