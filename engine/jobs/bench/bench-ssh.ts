/**
 * `npm run bench:ssh`: a hot backup of a 2 GiB disk of a running TCG domain on the namespace test host, against the
 * plain transfer `ssh host cat disk >/dev/null` (OpenSSH CLI, the cipher ssh2 negotiates) in the same run. Needs root,
 * libvirt and the test peers (e2e/hosts). Options: --size-mib N (default 2048), --format raw|qcow2 (default raw).
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { open, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { Client } from 'ssh2'
import { makeTestDir } from '../../../e2e/hosts/data-disk'
import { ensureLibvirt } from '../../../e2e/hosts/libvirt'
import { run } from '../../../e2e/hosts/run'
import { startSshHost, type SshTestHost } from '../../../e2e/hosts/ssh-host'
import { createTestDomain } from '../../../e2e/hosts/test-domain'
import { addRootHost, engineFixture } from '../testing/linux-fixture'

const MiB = 1024 * 1024
const { values } = parseArgs({ options: { 'size-mib': { type: 'string' }, format: { type: 'string' } } })
const sizeMiB = Number(values['size-mib'] ?? '2048')
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

async function negotiatedCipher(host: SshTestHost): Promise<string> {
  return await new Promise((resolve, reject) => {
    const c = new Client()
    c.on('handshake', (n: { cs: { cipher: string } }) => {
      resolve(n.cs.cipher)
      c.end()
    })
    c.on('error', reject)
    c.connect({ host: host.address, port: 22, username: 'root', privateKey: host.clientPrivateKey, hostVerifier: () => true })
  })
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
    await run('cat', [disk], { timeoutMs: 600_000 }).catch(() => undefined) // page cache warm for both contenders
    const plain1 = await opensshCat(host, cipher, disk)
    const t0 = process.hrtime.bigint()
    const { jobId } = await fx.call('backup.start', { host: 'bench', vm: domain.name, mode: 'hot', repo: undefined })
    const job = await fx.job(jobId, 1_800_000)
    const lifeboatSec = Number(process.hrtime.bigint() - t0) / 1e9
    if (job.state !== 'succeeded') throw new Error(`backup ${job.state}: ${job.error?.message ?? ''}`)
    const plain2 = await opensshCat(host, cipher, disk)
    const plain = Math.min(plain1, plain2)
    const size = sizeMiB * MiB
    const fileMiB = (await stat(disk)).size / MiB
    const result = {
      disk: `${sizeMiB} MiB ${format} (½ random, ¼ text, ¼ zeros)`,
      cipher,
      opensshCatSeconds: [plain1, plain2].map((s) => Number(s.toFixed(2))),
      imageFileMiB: Number(fileMiB.toFixed(1)),
      opensshCatMiBps: Number((fileMiB / plain).toFixed(1)),
      lifeboatHotBackupSeconds: Number(lifeboatSec.toFixed(2)),
      lifeboatHotBackupMiBps: Number((size / MiB / lifeboatSec).toFixed(1)),
      /** Same bytes of image file per second (for qcow2 the file is smaller than the disk it holds). */
      ratio: Number((plain / lifeboatSec).toFixed(3)),
      stats: (job.result as { stats: unknown }).stats,
    }
    const start = Date.parse(job.log[0]?.at ?? '')
    for (const l of job.log) console.log(`  +${((Date.parse(l.at) - start) / 1000).toFixed(2)} s  ${l.message.slice(0, 140)}`)
    console.log(JSON.stringify(result, null, 2))
    console.log(`Lifeboat hot backup ${result.lifeboatHotBackupMiBps} MiB/s vs OpenSSH cat ${result.opensshCatMiBps} MiB/s (${cipher}): ${(result.ratio * 100).toFixed(1)} % (target ≥ 90 %)`)
  } finally {
    await domain.remove()
  }
} finally {
  await fx.dispose()
  await host.stop()
  await rm(dir, { recursive: true, force: true })
  await libvirt.stop()
}
