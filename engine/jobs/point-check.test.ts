import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { lifeboatBin, runCli } from '../../e2e/support/cli'
import { makeBlankDisk, makeTestDir } from '../../test-hosts/data-disk'
import { canRunLibvirt, ensureLibvirt, virsh, type LibvirtHandle } from '../../test-hosts/libvirt'
import { sleep } from '../../test-hosts/run'
import { canRunSshHosts, startSshHost, type SshTestHost } from '../../test-hosts/ssh-host'
import { createTestDomain, type TestDomain } from '../../test-hosts/test-domain'
import { ensureTinyGuest } from '../../test-hosts/tiny-guest/tiny-guest'
import type { PointCheckDto } from '../api/contract-checks'
import type { BackupResult } from './backup-job'
import { addRootHost, engineFixture, type EngineFixture } from './testing/linux-fixture'

const MiB = 1024 * 1024
const CHECK_VM = /^lifeboat-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/

/** Names of the health-check VMs libvirt has right now, with their job ids. */
async function checkVms(): Promise<{ name: string; jobId: string }[]> {
  const names = (await virsh(['list', '--all', '--name'])).split('\n').map((l) => l.trim())
  return names.flatMap((name) => {
    const jobId = CHECK_VM.exec(name)?.[1]
    return jobId === undefined ? [] : [{ name, jobId }]
  })
}

/** Everything a check of `jobId` could have made on the host: domain, disk folder, QEMU log, lock and screenshot. */
async function leftOnHost(jobId: string): Promise<string[]> {
  const left: string[] = []
  if ((await checkVms()).some((v) => v.jobId === jobId)) left.push(`domain lifeboat-${jobId}`)
  for (const p of [`/var/lib/libvirt/images/lifeboat-${jobId}`, `/var/log/libvirt/qemu/lifeboat-${jobId}.log`]) if (existsSync(p)) left.push(p)
  for (const f of await readdir('/var/tmp')) if (f.includes(jobId)) left.push(`/var/tmp/${f}`)
  return left
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await sleep(200)
  }
}

// Health checks on a real libvirt host (TCG): the tiny guest's restore point boots and its agent answers; a point
// whose disk has no bootable system fails with the reason within the timeout; a cancel or a killed Lifeboat leaves
// nothing behind once the leftovers check ran.
describe.skipIf(!canRunLibvirt().ok || !canRunSshHosts().ok)('health checks of restore points (libvirt)', () => {
  let libvirt: LibvirtHandle
  let host: SshTestHost
  let bootable: TestDomain
  let unbootable: TestDomain
  let hung: TestDomain
  let fx: EngineFixture
  let dir: string
  let bootablePoint = ''
  let unbootablePoint = ''
  let hungPoint = ''
  let preexisting = new Set<string>()

  const backup = async (vm: string): Promise<string> => {
    const { jobId } = await fx.call('backup.start', { host: 'kvm1', vm, mode: 'cold' })
    const job = await fx.job(jobId)
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded')
    return (job.result as unknown as BackupResult).id
  }
  const check = async (point: string, timeoutSec: number, command?: string) => {
    const { jobId } = await fx.call('points.check', { point, host: 'kvm1', timeoutSec, ...(command !== undefined ? { command } : {}) })
    const job = await fx.job(jobId)
    expect(job.state, `${JSON.stringify(job.error)} ${job.log.map((l) => l.message).join(' | ')}`).toBe('succeeded')
    expect(job.leftBehind).toEqual([])
    expect(await leftOnHost(jobId)).toEqual([])
    return { jobId, check: job.result as unknown as PointCheckDto }
  }

  beforeAll(async () => {
    libvirt = await ensureLibvirt()
    preexisting = new Set((await checkVms()).map((v) => v.name))
    dir = await makeTestDir('lb-point-check-')
    bootable = await createTestDomain({ disks: [{ path: await makeBlankDisk({ path: path.join(dir, 'boot.raw'), sizeBytes: 8 * MiB }), format: 'raw' }], dataDevice: 'none' })
    // The same machine without the direct kernel boot: the firmware finds nothing to start on its blank disk.
    unbootable = await createTestDomain({ disks: [{ path: await makeBlankDisk({ path: path.join(dir, 'blank.raw'), sizeBytes: 8 * MiB }), format: 'raw' }], dataDevice: 'none' })
    const xml = (await virsh(['dumpxml', '--inactive', unbootable.name])).replace(/\s*<(kernel|initrd|cmdline)>[^<]*<\/\1>/g, '')
    const xmlPath = path.join(dir, 'unbootable.xml')
    await writeFile(xmlPath, xml)
    await virsh(['define', xmlPath])
    // A kernel that boots into a shell waiting on its console: running, but its guest agent never starts.
    const tiny = await ensureTinyGuest()
    hung = await createTestDomain({ guest: { ...tiny, cmdline: `${tiny.cmdline} rdinit=/bin/sh` }, disks: [{ path: await makeBlankDisk({ path: path.join(dir, 'hung.raw'), sizeBytes: 8 * MiB }), format: 'raw' }], dataDevice: 'none' })
    host = await startSshHost({ hostname: 'lb-kvm-check' })
    fx = await engineFixture()
    await addRootHost(fx, host, 'kvm1')
    bootablePoint = await backup(bootable.name)
    unbootablePoint = await backup(unbootable.name)
    hungPoint = await backup(hung.name)
  }, 300_000)

  afterAll(async () => {
    // A failed assertion in the kill test leaves the CLI's temporary VM: it must not outlive this file.
    for (const { name } of (await checkVms().catch(() => [])).filter((v) => !preexisting.has(v.name))) {
      await virsh(['destroy', name]).catch(() => '')
      await virsh(['undefine', name, '--nvram']).catch(() => '')
      await rm(`/var/lib/libvirt/images/${name}`, { recursive: true, force: true })
      await rm(`/var/tmp/${name}.lock`, { force: true })
    }
    await fx.dispose()
    await host.stop()
    await bootable.remove()
    await unbootable.remove()
    await hung.remove()
    await rm(dir, { recursive: true, force: true })
    await libvirt.stop()
  })

  it('the tiny guest boots: its agent answers, the command exits 0, a PNG screenshot is kept, points list shows the verdict', async () => {
    const { check: c } = await check(bootablePoint, 120, 'test -d /proc && echo alive')
    expect(c.verdict).toBe('booted')
    expect(c.summary).toMatch(/^Booted — the guest agent answered after \d+ s; `test -d \/proc && echo alive` exited with 0$/)
    expect(c.command).toEqual({ commandLine: 'test -d /proc && echo alive', exitCode: 0, output: 'alive' })
    expect(c.timings.bootMs).toBeGreaterThan(0)
    expect(c.screenshot?.format).toBe('png')
    const png = await readFile(c.screenshot?.path ?? '')
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
    const listed = await fx.call('points.list', {})
    expect(listed.find((p) => p.id === bootablePoint)?.lastCheck?.summary).toBe(c.summary)
    expect(listed.find((p) => p.id === unbootablePoint)?.lastCheck).toBeUndefined()
  }, 240_000)

  it('a command that fails in the guest fails the check with its exit status and output (CLI: exit 1, --json verdict)', async () => {
    const cli = await runCli(fx.home, ['points', 'check', bootablePoint, '--host', 'kvm1', '--timeout', '2m', '--command', 'echo degraded >&2; exit 3', '--json'])
    expect(cli.code, cli.stderr).toBe(1)
    const c = JSON.parse(cli.stdout) as PointCheckDto
    expect(c.verdict).toBe('failed')
    expect(c.summary).toMatch(/^Failed — the guest agent answered after \d+ s; `echo degraded >&2; exit 3` exited with 3: degraded$/)
    expect(await leftOnHost(c.jobId)).toEqual([])
    expect((await fx.call('points.get', { pointId: bootablePoint })).lastCheck?.jobId).toBe(c.jobId)
  }, 240_000)

  it('a disk without a bootable system fails at once with the firmware\'s own words, long before the timeout', async () => {
    const started = Date.now()
    const { check: c } = await check(unbootablePoint, 300)
    expect(c.verdict).toBe('failed')
    expect(c.summary).toMatch(/^Failed — the disk has no bootable system \(the VM's screen after \d+ s: ".*No bootable device\.?"\)$/)
    expect(Date.now() - started).toBeLessThan(60_000)
  }, 120_000)

  it('a guest that never answers fails with the reason when the timeout ends', async () => {
    const { check: c } = await check(hungPoint, 6)
    expect(c.verdict).toBe('failed')
    expect(c.summary).toMatch(/^Failed — no answer from the guest agent within 6 s \(libvirt: .+\)$/)
    expect(c.timings.bootMs).toBeGreaterThanOrEqual(6_000)
    expect(c.timings.bootMs).toBeLessThan(25_000)
  }, 120_000)

  it('cancelled mid-boot: the job is cancelled and nothing is left on the host', async () => {
    const { jobId } = await fx.call('points.check', { point: hungPoint, host: 'kvm1', timeoutSec: 300 })
    await waitFor('the temporary VM running', async () => ((await virsh(['domstate', `lifeboat-${jobId}`]).catch(() => '')).trim() === 'running' ? true : undefined))
    await fx.call('jobs.cancel', { jobId })
    const job = await fx.job(jobId)
    expect(job.state).toBe('cancelled')
    expect(job.leftBehind).toEqual([])
    expect(await leftOnHost(jobId)).toEqual([])
  }, 120_000)

  it('Lifeboat killed mid-check: the VM is offered but not cleanable while the job lock is held, then found and cleaned', async () => {
    const before = new Set((await checkVms()).map((v) => v.jobId))
    const child = spawn(process.execPath, [lifeboatBin, 'points', 'check', hungPoint, '--host', 'kvm1', '--timeout', '5m', '--home', fx.home], { stdio: 'ignore' })
    const exited = new Promise<void>((resolve) => child.on('close', () => resolve()))
    try {
      const jobId = await waitFor(
        'the temporary VM of the CLI running',
        async () => {
          const vm = (await checkVms()).find((v) => !before.has(v.jobId))
          return vm !== undefined && (await virsh(['domstate', vm.name]).catch(() => '')).trim() === 'running' ? vm.jobId : undefined
        },
        180_000,
      )
      const held = (await fx.call('leftovers.list', { host: 'kvm1' })).filter((l) => l.jobId === jobId)
      expect(held.map((l) => [l.kind, l.safeToClean])).toEqual(expect.arrayContaining([['vm', false], ['file', false]]))
      child.kill('SIGKILL')
      await exited
      // The SSH connection is gone with the process, and with it the lock; the leftovers check may clean now.
      const found = await waitFor('the lock released', async () => {
        const l = (await fx.call('leftovers.list', { host: 'kvm1' })).filter((x) => x.jobId === jobId)
        return l.length > 0 && l.every((x) => x.safeToClean) ? l : undefined
      }, 30_000)
      expect(found.map((l) => l.id)).toEqual(expect.arrayContaining([expect.stringMatching(/^vm:/), `file:/var/lib/libvirt/images/lifeboat-${jobId}`]))
      const cleaned = await fx.call('leftovers.clean', { host: 'kvm1', ids: found.map((l) => l.id) })
      expect(cleaned.failed).toEqual([])
      expect(await leftOnHost(jobId)).toEqual([])
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
  }, 300_000)
})
