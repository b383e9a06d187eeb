/**
 * Health checks of Hyper-V restore points through the engine against the Hyper-V simulator, whose VMs made with New-VM
 * answer on the Heartbeat integration service only after booting from a disk with a boot sector (SimVm.guest.boot
 * 'disk', HyperVHost.bootGuest): a bootable point → Booted when the heartbeat is OK; a disk without a boot sector →
 * Failed when the timeout ends ("No Contact"), saying why — both keep the console thumbnail as PNG; a cancel mid-boot
 * and a killed Lifeboat (the job lock goes with its SSH connection, then the leftovers check cleans the VM and its
 * folder) leave nothing on the host.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { inflateSync } from 'node:zlib'
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { lifeboatBin } from '../../e2e/support/cli'
import { VHD_FOLDER } from '../../test-hosts/hyperv-sim/hyperv/host'
import { canRunHyperVSim, startHyperVSim, type HyperVSim } from '../../test-hosts/hyperv-pwsh/sim'
import { sleep } from '../../test-hosts/run'
import type { PointCheckDto } from '../api/contract-checks'
import type { BackupResult } from './backup-job'
import { engineFixture, type EngineFixture } from './testing/linux-fixture'

const MiB = 1024 * 1024

/** Width, height and the distinct RGB colours of a PNG as Lifeboat writes it (truecolour, one IDAT, filter 0 per row). */
async function pngAt(file: string | undefined): Promise<{ width: number; height: number; colours: number }> {
  const png = await readFile(file ?? '')
  expect(png.subarray(0, 16)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]))
  const width = png.readUInt32BE(16)
  const height = png.readUInt32BE(20)
  expect(png.subarray(37, 41).toString('latin1')).toBe('IDAT')
  const rows = inflateSync(png.subarray(41, 41 + png.readUInt32BE(33)))
  expect(rows.length).toBe((width * 3 + 1) * height)
  const colours = new Set<number>()
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) colours.add(rows.readUIntBE(y * (width * 3 + 1) + 1 + x * 3, 3))
  return { width, height, colours: colours.size }
}

function disk(bootable: boolean): Buffer {
  const b = randomBytes(4 * MiB)
  b[510] = bootable ? 0x55 : 0
  b[511] = bootable ? 0xaa : 0
  return b
}

describe.skipIf(!canRunHyperVSim().ok)('health checks of restore points (Hyper-V test host)', { timeout: 300_000 }, () => {
  let sim: HyperVSim
  let fx: EngineFixture
  let bootablePoint = ''
  let blankPoint = ''

  /** What a check of `jobId` may have left on the host: its VM, its disk folder, its lock file. */
  const leftOnHost = (jobId: string): string[] => {
    const name = `lifeboat-check-${jobId}`
    const left: string[] = []
    if (sim.host.vmByName(name) !== undefined) left.push(`VM ${name}`)
    if (existsSync(sim.host.fs.toLocal(`${VHD_FOLDER}\\${name}`))) left.push(`folder ${name}`)
    if (existsSync(sim.host.fs.toLocal(`C:\\ProgramData\\Lifeboat\\jobs\\lifeboat-${jobId}.lock`))) left.push('lock file')
    return left
  }
  const runningCheck = () => [...sim.host.vms.values()].find((v) => v.name.startsWith('lifeboat-check-') && v.state === 'Running')
  const waitFor = async <T,>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const v = await probe()
      if (v !== undefined) return v
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
      await sleep(100)
    }
  }
  const backup = async (vm: string) => {
    const job = await fx.job((await fx.call('backup.start', { host: 'hv1', vm, mode: 'cold' })).jobId, 60_000)
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded')
    return (job.result as unknown as BackupResult).id
  }
  const check = async (point: string, timeoutSec: number) => {
    const { jobId } = await fx.call('points.check', { point, host: 'hv1', timeoutSec })
    const job = await fx.job(jobId, 60_000)
    expect(job.state, `${JSON.stringify(job.error)} ${job.log.map((l) => l.message).join(' | ')}`).toBe('succeeded')
    expect(job.leftBehind).toEqual([])
    expect(leftOnHost(jobId)).toEqual([])
    return job.result as unknown as PointCheckDto
  }

  beforeAll(async () => {
    sim = await startHyperVSim()
    sim.host.timing.guestBootMs = 1500
    await sim.addVm('bootable', { disks: [disk(true)], state: 'Off' })
    await sim.addVm('blank', { disks: [disk(false)], state: 'Off' })
    fx = await engineFixture()
    await fx.call('hosts.add', { kind: 'hyperv', name: 'hv1', address: `${sim.address}:${sim.port}`, user: sim.user, auth: { type: 'key', privateKey: sim.privateKey }, acceptFingerprint: sim.fingerprint })
    bootablePoint = await backup('bootable')
    blankPoint = await backup('blank')
  }, 120_000)
  afterAll(async () => {
    await fx.dispose()
    await sim.close()
  })

  it('a bootable point boots: the heartbeat turns OK on a VM with no network adapter connected', async () => {
    const seen = { switches: new Set<string | null>() }
    const watch = setInterval(() => {
      for (const n of runningCheck()?.nics ?? []) seen.switches.add(n.switchName)
    }, 50)
    try {
      const c = await check(bootablePoint, 30)
      expect(c.verdict).toBe('booted')
      expect(c.summary).toMatch(/^Booted — the Heartbeat integration service reported OK after \d+ s$/)
      expect(c.timings.bootMs).toBeGreaterThanOrEqual(1500)
      // The console as Hyper-V's GetVirtualSystemThumbnailImage gave it (the test host draws a booted guest's text).
      expect(c.screenshot?.format).toBe('png')
      const shot = await pngAt(c.screenshot?.path)
      expect([shot.width, shot.height]).toEqual([640, 480])
      expect(shot.colours).toBeGreaterThan(1)
    } finally {
      clearInterval(watch)
    }
    expect([...seen.switches]).toEqual([null])
  }, 60_000)

  it('a disk without a boot sector fails when the timeout ends, with the reason', async () => {
    const c = await check(blankPoint, 5)
    expect(c.verdict).toBe('failed')
    expect(c.summary).toBe('Failed — no heartbeat within 5 s (Heartbeat integration service: No Contact): the disk has no bootable system (its first disk has no boot sector: no 0x55AA signature at byte 510)')
    expect(c.timings.bootMs).toBeGreaterThanOrEqual(5000)
    expect(c.timings.bootMs).toBeLessThan(15_000)
    // The VM ran with nothing booted: its console is kept too, and it is black.
    expect(c.screenshot?.format).toBe('png')
    expect(await pngAt(c.screenshot?.path)).toEqual({ width: 640, height: 480, colours: 1 })
  }, 60_000)

  it('cancelled mid-boot: the job is cancelled and nothing is left on the host', async () => {
    const { jobId } = await fx.call('points.check', { point: blankPoint, host: 'hv1', timeoutSec: 300 })
    await waitFor('the temporary VM running', () => runningCheck())
    await fx.call('jobs.cancel', { jobId })
    const job = await fx.job(jobId, 30_000)
    expect(job.state).toBe('cancelled')
    expect(job.leftBehind).toEqual([])
    expect(leftOnHost(jobId)).toEqual([])
  }, 60_000)

  it('Lifeboat killed mid-check: VM and folder are offered but not cleanable while the job lock is held, then cleaned', async () => {
    const child = spawn(process.execPath, [lifeboatBin, 'points', 'check', blankPoint, '--host', 'hv1', '--timeout', '5m', '--home', fx.home], { stdio: 'ignore' })
    const exited = new Promise<void>((resolve) => child.on('close', () => resolve()))
    try {
      const vm = await waitFor('the temporary VM of the CLI running', () => runningCheck(), 60_000)
      const jobId = vm.name.replace('lifeboat-check-', '')
      const held = (await fx.call('leftovers.list', { host: 'hv1' })).filter((l) => l.jobId === jobId)
      expect(held.map((l) => [l.kind, l.safeToClean])).toEqual([['vm', false], ['file', false]])
      child.kill('SIGKILL')
      await exited
      // The SSH connection is gone with the process, and with it the lock.
      const found = await waitFor('the lock released', async () => {
        const l = (await fx.call('leftovers.list', { host: 'hv1' })).filter((x) => x.jobId === jobId)
        return l.length > 0 && l.every((x) => x.safeToClean) ? l : undefined
      }, 30_000)
      expect(found.map((l) => l.id)).toEqual([`check-vm:${vm.id}`, `check-dir:${jobId}`])
      const cleaned = await fx.call('leftovers.clean', { host: 'hv1', ids: found.map((l) => l.id) })
      expect(cleaned.failed).toEqual([])
      expect(leftOnHost(jobId)).toEqual([])
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
  }, 120_000)
})
