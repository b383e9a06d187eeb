/**
 * Health checks of XenServer restore points through the engine against the XAPI simulator, whose guests report guest
 * metrics only after booting from a disk with a boot sector (test-hosts/xapi-sim/guest.ts): a bootable point → Booted
 * when the metrics appear; a disk without a boot sector → Failed when the timeout ends, saying why; each keeps a JPEG of
 * the console from the simulator's GET /vncsnapshot (its login prompt, or the BIOS's "No bootable device"), and a pool
 * that cannot take one leaves the verdict alone; a cancel mid-boot and a killed Lifeboat (the leftovers check then
 * finds the VM by its mark and heartbeat) leave nothing on the pool.
 */
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { lifeboatBin } from '../../e2e/support/cli'
import { sleep } from '../../test-hosts/run'
import { text } from '../../test-hosts/xapi-sim/datamodel-values'
import { XapiSim } from '../../test-hosts/xapi-sim/sim'
import { decodeJpeg, differingPixels, renderScreen, screenLines } from '../../test-hosts/xapi-sim/vnc-snapshot'
import { jpegInfo } from '../../adapters/xenserver/jpeg'
import type { PointCheckDto } from '../api/contract-checks'
import type { BackupResult } from './backup-job'
import { engineFixture, type EngineFixture } from './testing/linux-fixture'

const MiB = 1024 * 1024

describe('health checks of restore points (XenServer, XAPI simulator)', () => {
  let sim: XapiSim
  let fx: EngineFixture
  let bootablePoint = ''
  let blankPoint = ''
  let vdisBefore = 0

  /** What a check of `jobId` may have made on the pool: its VM, and VDIs or VMs carrying its mark. */
  const leftOnPool = (jobId: string): string[] => [
    ...sim.db
      .all('VM')
      .filter(([, r]) => r.name_label === `lifeboat-check-${jobId}`)
      .map(([ref]) => `VM ${ref}`),
    ...sim.lifeboatObjects().filter((o) => o.other['lifeboat:job'] === jobId).map((o) => `${o.cls} ${o.name}`),
  ]
  const checkVm = (jobId?: string) => sim.db.all('VM').find(([, r]) => text(r.name_label).startsWith(`lifeboat-check-${jobId ?? ''}`) && r.power_state === 'Running')
  const waitFor = async <T,>(what: string, probe: () => T | undefined, timeoutMs = 60_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const v = probe()
      if (v !== undefined) return v
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
      await sleep(100)
    }
  }
  const backup = async (vm: string) => {
    const job = await fx.job((await fx.call('backup.start', { host: 'pool1', vm, mode: 'cold' })).jobId, 60_000)
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded')
    return (job.result as unknown as BackupResult).id
  }
  const run = async (point: string, timeoutSec: number) => {
    const { jobId } = await fx.call('points.check', { point, host: 'pool1', timeoutSec })
    const job = await fx.job(jobId, 60_000)
    expect(job.state, `${JSON.stringify(job.error)} ${job.log.map((l) => l.message).join(' | ')}`).toBe('succeeded')
    expect(job.leftBehind).toEqual([])
    expect(leftOnPool(jobId)).toEqual([])
    expect(sim.db.all('VDI')).toHaveLength(vdisBefore)
    return { check: job.result as unknown as PointCheckDto, log: job.log.map((l) => `${l.level}: ${l.message}`) }
  }
  const check = async (point: string, timeoutSec: number) => (await run(point, timeoutSec)).check
  /**
   * The check's screenshot as kept and as served: a JPEG named after the job in the data folder, served as
   * image/jpeg, showing `screen` (the simulator's console drawn as text, JPEG's losses aside).
   */
  const expectScreenshot = async (c: PointCheckDto, point: string, screen: 'booted' | 'no-bootable-device') => {
    expect(c.screenshot?.format).toBe('jpeg')
    expect(path.basename(c.screenshot?.path ?? '')).toBe(`${c.jobId}.jpeg`)
    const kept = await readFile(c.screenshot?.path ?? '')
    expect([...kept.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff])
    expect(jpegInfo(kept)).toEqual({ width: 640, height: 400, components: 3 })
    const picture = await decodeJpeg(kept)
    const expected = renderScreen(screenLines(screen, { name: `lifeboat-check-${c.jobId}`, os: 'Simulated guest (booted from its first disk)' }))
    const other = renderScreen(screenLines(screen === 'booted' ? 'no-bootable-device' : 'booted', { name: `lifeboat-check-${c.jobId}`, os: 'Simulated guest (booted from its first disk)' }))
    expect(differingPixels(picture, expected)).toBeLessThan(20)
    expect(differingPixels(picture, other)).toBeGreaterThan(1000)
    const served = await fx.call('points.checkScreenshot', { point })
    expect(served).toMatchObject({ jobId: c.jobId, mimeType: 'image/jpeg', checkedAt: c.checkedAt })
    expect(Buffer.from(served.dataBase64, 'base64')).toEqual(kept)
  }

  beforeAll(async () => {
    sim = await XapiSim.start({ vms: [{ name: 'bootable', diskSize: 8 * MiB, powerState: 'Halted' }, { name: 'blank', diskSize: 8 * MiB, powerState: 'Halted' }] })
    sim.faults.guestBootMs = 1500
    // The disks hold random bytes: the boot sector signature is written (or cleared) where the BIOS looks for it.
    await sim.writeGuest('bootable', 0, 510, Buffer.from([0x55, 0xaa]))
    await sim.writeGuest('blank', 0, 510, Buffer.from([0, 0]))
    fx = await engineFixture()
    await fx.call('hosts.add', { kind: 'xenserver', name: 'pool1', address: `127.0.0.1:${sim.port}`, user: 'root', auth: { type: 'password', password: sim.password }, acceptFingerprint: sim.fingerprint })
    bootablePoint = await backup('bootable')
    blankPoint = await backup('blank')
    vdisBefore = sim.db.all('VDI').length
  }, 60_000)
  afterAll(async () => {
    await fx.dispose()
    await sim.stop()
  })

  it('a bootable point boots: its guest metrics appear, the verdict is kept with the point with a JPEG of the console', async () => {
    const { check: c, log } = await run(bootablePoint, 30)
    expect(c.verdict).toBe('booted')
    expect(c.summary).toMatch(/^Booted — the guest reported through its PV drivers after \d+ s \(Simulated guest .*, PV drivers 9\.4\.0\)$/)
    expect(c.timings.bootMs).toBeGreaterThanOrEqual(1500)
    expect((await fx.call('points.get', { pointId: bootablePoint })).lastCheck?.jobId).toBe(c.jobId)
    await expectScreenshot(c, bootablePoint, 'booted')
    expect(log).toContainEqual(expect.stringMatching(/^info: Kept a screenshot of the console \(JPEG, 640x400, \d+ KiB\)\.$/))
  }, 60_000)

  it('a disk without a boot sector fails when the timeout ends, with the reason and the console saying "No bootable device"', async () => {
    const c = await check(blankPoint, 5)
    expect(c.verdict).toBe('failed')
    expect(c.summary).toBe('Failed — no guest metrics (PV drivers / guest agent) within 5 s: the disk has no bootable system (its first disk has no boot sector: no 0x55AA signature at byte 510)')
    expect(c.timings.bootMs).toBeGreaterThanOrEqual(5000)
    expect(c.timings.bootMs).toBeLessThan(10_000)
    await expectScreenshot(c, blankPoint, 'no-bootable-device')
  }, 60_000)

  it('a pool that cannot take a console screenshot: the verdict stands on its own, no screenshot, the log says why', async () => {
    const before = (await fx.call('points.get', { pointId: bootablePoint })).lastCheck?.screenshot?.path ?? ''
    sim.faults.vncsnapshotMissing = true
    try {
      const { check: c, log } = await run(bootablePoint, 30)
      expect(c.verdict).toBe('booted')
      expect(c.screenshot).toBeUndefined()
      expect(log.filter((l) => l.includes('console screenshot'))).toEqual([
        'warn: The pool could not take a console screenshot: the pool refused /vncsnapshot (HTTP 500): Internal Server Error: Taking snapshot of VM console: /usr/bin/vncsnapshot: No such file or directory.',
      ])
      // The newer check replaced the older one, and its screenshot with it.
      await expect(fx.call('points.checkScreenshot', { point: bootablePoint })).rejects.toMatchObject({ code: 'NOT_FOUND' })
      await expect(readFile(before)).rejects.toMatchObject({ code: 'ENOENT' })
    } finally {
      sim.faults.vncsnapshotMissing = false
    }
    // An answer that is not a JPEG (here an HTML page with status 200) is not kept either.
    sim.faults.vncsnapshotAnswer = Buffer.from('<html><body>Console unavailable</body></html>')
    try {
      const { check: c, log } = await run(bootablePoint, 30)
      expect(c.verdict).toBe('booted')
      expect(c.screenshot).toBeUndefined()
      expect(log.filter((l) => l.includes('console screenshot'))).toEqual([
        'warn: The pool could not take a console screenshot: the answer is not a usable JPEG image: it does not start with the JPEG signature (FF D8 FF).',
      ])
    } finally {
      sim.faults.vncsnapshotAnswer = undefined
    }
  }, 60_000)

  it('cancelled mid-boot (the VM runs without network interfaces): the job is cancelled and nothing is left on the pool', async () => {
    const { jobId } = await fx.call('points.check', { point: blankPoint, host: 'pool1', timeoutSec: 300 })
    const [, running] = await waitFor('the temporary VM running', () => checkVm(jobId))
    // No network: the saved interface was left out.
    expect(running.VIFs).toEqual([])
    await fx.call('jobs.cancel', { jobId })
    const job = await fx.job(jobId, 30_000)
    expect(job.state).toBe('cancelled')
    expect(job.leftBehind).toEqual([])
    expect(leftOnPool(jobId)).toEqual([])
    expect(sim.db.all('VDI')).toHaveLength(vdisBefore)
  }, 60_000)

  it('Lifeboat killed mid-check: the VM is offered but not cleanable while its heartbeat is fresh, then cleaned', async () => {
    const child = spawn(process.execPath, [lifeboatBin, 'points', 'check', blankPoint, '--host', 'pool1', '--timeout', '5m', '--home', fx.home], { stdio: 'ignore' })
    const exited = new Promise<void>((resolve) => child.on('close', () => resolve()))
    try {
      const [vmRef, vm] = await waitFor('the temporary VM of the CLI running', () => checkVm(), 60_000)
      child.kill('SIGKILL')
      await exited
      const jobId = text(vm.name_label).replace('lifeboat-check-', '')
      const held = (await fx.call('leftovers.list', { host: 'pool1' })).filter((l) => l.jobId === jobId)
      expect(held.map((l) => [l.kind, l.safeToClean])).toEqual([['vm', false]])
      // Eleven minutes later, as far as the pool's records tell: the heartbeat of a dead check goes stale.
      const other = sim.db.get('VM', vmRef).other_config as Record<string, string>
      sim.db.set('VM', vmRef, { other_config: { ...other, 'lifeboat:heartbeat': new Date(Date.now() - 11 * 60_000).toISOString() } })
      const found = (await fx.call('leftovers.list', { host: 'pool1' })).filter((l) => l.jobId === jobId)
      expect(found.map((l) => [l.id, l.kind, l.safeToClean])).toEqual([[`check-vm:${text(vm.uuid)}`, 'vm', true]])
      const cleaned = await fx.call('leftovers.clean', { host: 'pool1', ids: found.map((l) => l.id) })
      expect(cleaned.failed).toEqual([])
      expect(leftOnPool(jobId)).toEqual([])
      expect(sim.db.all('VDI')).toHaveLength(vdisBefore)
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
  }, 120_000)
})
