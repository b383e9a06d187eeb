/**
 * `npm run bench:ssh`: hot backups of a 2 GiB disk of a running TCG domain on the namespace test host, against the
 * plain transfer `ssh host cat disk` read to nowhere (OpenSSH CLI, the cipher ssh2 negotiates) in the same run:
 * `--repeat` rounds (default 3) of one plain transfer and one backup into a fresh repository, alternating which goes
 * first, the page cache warmed before each; medians are compared. Needs root, libvirt and the test peers
 * (test-hosts). Options: --size-mib N (default 2048), --format raw|qcow2 (default raw), --repeat N.
 *
 * Two ratios are printed. The target one is the data path: from the moment the snapshot is ready to the moment the
 * restore point is written (read, hash, compress, store, flush, manifest) — the same bytes as the plain transfer.
 * The whole job adds what does not depend on the disk's size (connecting, freezing the guest, the snapshot, merging
 * it back), reported for information.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { open, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { makeTestDir } from '../test-hosts/data-disk'
import { ensureLibvirt } from '../test-hosts/libvirt'
import { run } from '../test-hosts/run'
import { startSshHost, type SshTestHost } from '../test-hosts/ssh-host'
import { createTestDomain } from '../test-hosts/test-domain'
import { negotiatedCipher } from './ssh-cipher.js'
import { addRootHost, engineFixture } from '../engine/jobs/testing/linux-fixture'

const MiB = 1024 * 1024
const { values } = parseArgs({ options: { 'size-mib': { type: 'string' }, format: { type: 'string' }, repeat: { type: 'string' } } })
const sizeMiB = Number(values['size-mib'] ?? '2048')
const repeat = Math.max(1, Number(values.repeat ?? '3') || 3)
const format = values.format === 'qcow2' ? 'qcow2' : 'raw'

/** A disk of mixed content, like a real one: half random, a quarter text, a quarter zeros, in 4 MiB runs. */
async function makeDisk(file: string): Promise<void> {
  const fh = await open(file, 'w')
  const text = Buffer.from('The quick brown fox jumps over the lazy dog. Lifeboat benchmark line 0123456789.\n'.repeat(Math.ceil((4 * MiB) / 80))).subarray(0, 4 * MiB)
  try {
    for (let i = 0; i < sizeMiB / 4; i++) {
      const kind = i % 4
      const block = kind < 2 ? randomBytes(4 * MiB) : kind === 2 ? text : undefined
      if (block !== undefined) await fh.write(block, 0, block.length, i * 4 * MiB)
    }
    await fh.truncate(sizeMiB * MiB)
  } finally {
    await fh.close()
  }
}

async function opensshCat(host: SshTestHost, cipher: string, file: string): Promise<number> {
  const fileSize = (await stat(file)).size
  const started = process.hrtime.bigint()
  await new Promise<void>((resolve, reject) => {
    const p = spawn('ssh', ['-i', host.clientKeyPath, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-c', cipher, `root@${host.address}`, 'cat', file], { stdio: ['ignore', 'pipe', 'inherit'] })
    let bytes = 0
    p.stdout.on('data', (d: Buffer) => (bytes += d.length))
    p.on('close', (code) => (code === 0 && bytes === fileSize ? resolve() : reject(new Error(`ssh cat exited ${code ?? '?'} after ${bytes} bytes`))))
  })
  return Number(process.hrtime.bigint() - started) / 1e9
}

/** Which transport a backup's bulk read used: an `ssh` child of this process means the system OpenSSH client. */
function watchTransport(): { stop(): Promise<string> } {
  let seen = false
  const timer = setInterval(() => {
    void run('pgrep', ['-P', String(process.pid), '-x', 'ssh'], { timeoutMs: 5000 }).then(
      () => (seen = true),
      () => undefined,
    )
  }, 200)
  return {
    stop: () => {
      clearInterval(timer)
      return Promise.resolve(seen ? 'OpenSSH' : 'ssh2')
    },
  }
}

const libvirt = await ensureLibvirt()
const dir = await makeTestDir('lb-bench-ssh-')
const host = await startSshHost({ hostname: 'lb-bench' })
const fx = await engineFixture()
try {
  const rawFile = path.join(dir, 'big.raw')
  await makeDisk(rawFile)
  let disk = rawFile
  if (format === 'qcow2') {
    disk = path.join(dir, 'big.qcow2')
    await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', rawFile, disk], { timeoutMs: 600_000 })
    await rm(rawFile)
  }
  const domain = await createTestDomain({ disks: [{ path: disk, format }], dataDevice: 'none' })
  try {
    await domain.start()
    await domain.waitForAgent(120_000)
    await addRootHost(fx, host, 'bench')
    const cipher = await negotiatedCipher(host)
    const size = sizeMiB * MiB
    const fileMiB = (await stat(disk)).size / MiB
    // Page cache warm for both contenders before every timed run (merging the snapshot back after a backup evicts
    // parts of the base image, which would otherwise slow whichever runs next).
    const warm = () => run('sh', ['-c', 'cat -- "$1" > /dev/null', 'warm', disk], { timeoutMs: 600_000 })
    const rounds: { plain: number; data: number; job: number; transport: string; stats: unknown }[] = []
    for (let round = 0; round < repeat; round++) {
      const backup = async () => {
        const repo = path.join(dir, `repo-${round}`)
        await fx.call('repo.init', { repo })
        await warm()
        const seen = watchTransport()
        const t0 = process.hrtime.bigint()
        const { jobId } = await fx.call('backup.start', { host: 'bench', vm: domain.name, mode: 'hot', repo })
        const job = await fx.job(jobId, 1_800_000)
        const jobSec = Number(process.hrtime.bigint() - t0) / 1e9
        const transport = await seen.stop()
        if (job.state !== 'succeeded') throw new Error(`backup ${job.state}: ${job.error?.message ?? ''}`)
        const start = Date.parse(job.log[0]?.at ?? '')
        for (const l of job.log) console.log(`    +${((Date.parse(l.at) - start) / 1000).toFixed(2)} s  ${l.message.slice(0, 140)}`)
        // The data path: from the snapshot being ready (the consistency line is logged right then) to the point written.
        const logged = (re: RegExp): number => Date.parse(job.log.find((l) => re.test(l.message))?.at ?? '')
        const dataSec = (logged(/^Restore point \S+ written/) - logged(/^Consistency of this restore point/)) / 1000
        if (!Number.isFinite(dataSec) || dataSec <= 0) throw new Error('the job log does not show when the data path started and ended')
        return { data: dataSec, job: jobSec, transport, stats: (job.result as { stats: unknown }).stats }
      }
      const plainRun = async () => {
        await warm()
        return await opensshCat(host, cipher, disk)
      }
      // Alternate which goes first, so that neither always runs on the quieter machine.
      let plain: number
      let b: Awaited<ReturnType<typeof backup>>
      if (round % 2 === 0) {
        plain = await plainRun()
        b = await backup()
      } else {
        b = await backup()
        plain = await plainRun()
      }
      rounds.push({ plain, ...b })
      console.log(`  round ${round + 1}: OpenSSH cat ${(fileMiB / plain).toFixed(0)} MiB/s (${plain.toFixed(2)} s); Lifeboat data path ${(size / MiB / b.data).toFixed(0)} MiB/s (${b.data.toFixed(2)} s, through ${b.transport}), whole job ${b.job.toFixed(2)} s`)
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0
    const plain = median(rounds.map((r) => r.plain))
    const dataSec = median(rounds.map((r) => r.data))
    const jobSec = median(rounds.map((r) => r.job))
    const result = {
      disk: `${sizeMiB} MiB ${format} (½ random, ¼ text, ¼ zeros)`,
      cipher,
      rounds: repeat,
      imageFileMiB: Number(fileMiB.toFixed(1)),
      opensshCatSeconds: rounds.map((r) => Number(r.plain.toFixed(2))),
      dataPathSeconds: rounds.map((r) => Number(r.data.toFixed(2))),
      hotBackupJobSeconds: rounds.map((r) => Number(r.job.toFixed(2))),
      lifeboatTransport: [...new Set(rounds.map((r) => r.transport))].join(', '),
      /** Medians. Same bytes of image file per second (for qcow2 the file is smaller than the disk it holds). */
      opensshCatMiBps: Number((fileMiB / plain).toFixed(1)),
      dataPathMiBps: Number((size / MiB / dataSec).toFixed(1)),
      dataPathRatio: Number((plain / dataSec).toFixed(3)),
      hotBackupJobMiBps: Number((size / MiB / jobSec).toFixed(1)),
      hotBackupJobRatio: Number((plain / jobSec).toFixed(3)),
      bestDataPathRatio: Number((Math.min(...rounds.map((r) => r.plain)) / Math.min(...rounds.map((r) => r.data))).toFixed(3)),
      stats: rounds[0]?.stats,
    }
    console.log(JSON.stringify(result, null, 2))
    console.log(`Data path (snapshot ready → restore point written), median of ${repeat}: ${result.dataPathMiBps} MiB/s vs OpenSSH cat ${result.opensshCatMiBps} MiB/s (${cipher}): ${(result.dataPathRatio * 100).toFixed(1)} % (target ≥ 90 %: ${result.dataPathRatio >= 0.9 ? 'met' : 'NOT met'}; best vs best ${(result.bestDataPathRatio * 100).toFixed(1)} %)`)
    console.log(`Whole hot-backup job (also connecting, freezing, snapshot, merge), median: ${result.hotBackupJobMiBps} MiB/s: ${(result.hotBackupJobRatio * 100).toFixed(1)} % of the plain transfer`)
  } finally {
    await domain.remove()
  }
} finally {
  await fx.dispose()
  await host.stop()
  await rm(dir, { recursive: true, force: true })
  await libvirt.stop()
}
