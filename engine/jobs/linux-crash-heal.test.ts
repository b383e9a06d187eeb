import { readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeBlankDisk, makeTestDir } from '../../test-hosts/data-disk'
import { canRunLibvirt, ensureLibvirt, virsh, type LibvirtHandle } from '../../test-hosts/libvirt'
import { run } from '../../test-hosts/run'
import { canRunSshHosts, startSshHost, type SshTestHost } from '../../test-hosts/ssh-host'
import { createTestDomain, type TestDomain } from '../../test-hosts/test-domain'
import type { BackupResult } from './backup-job'
import { addRootHost, engineFixture, rawBytes, type EngineFixture } from './testing/linux-fixture'
import { pointDiskBytes } from './testing/point-bytes'

const MiB = 1024 * 1024

// A host's bad day: hot backups of a running domain with change tracking (qcow2 + libvirt checkpoints), and
// between them QEMU killed, the checkpoint deleted behind Lifeboat's back, the bitmap removed from the image while
// the domain was off, the domain undefined and defined again. Every backup must succeed; the one after the damage
// reads whole disks and says why; the one after that is incremental again; every restore point is byte-exact.
describe.skipIf(!canRunLibvirt().ok || !canRunSshHosts().ok)('change tracking that heals itself after a crash (libvirt)', () => {
  let libvirt: LibvirtHandle
  let host: SshTestHost
  let domain: TestDomain
  let fx: EngineFixture
  let dir: string
  let disk = ''

  const backup = async (): Promise<BackupResult> => {
    const { jobId } = await fx.call('backup.start', { host: 'kvm1', vm: domain.name, mode: 'hot', quiesce: false })
    const job = await fx.job(jobId)
    expect(job.state, `${JSON.stringify(job.error)} ${job.log.map((l) => l.message).join(' | ')}`).toBe('succeeded')
    expect(job.leftBehind).toEqual([])
    return job.result as unknown as BackupResult
  }
  const exact = async (point: BackupResult): Promise<void> => {
    const live = await rawBytes(disk, path.join(dir, 'live.raw'))
    expect((await pointDiskBytes(fx.engine, point.id, 'vda')).equals(live)).toBe(true)
  }
  const lifeboatCheckpoints = async () => (await virsh(['checkpoint-list', domain.name, '--name'])).split('\n').map((l) => l.trim()).filter((l) => l.startsWith('lifeboat-'))
  /** Bitmaps QEMU holds for the disk right now (from the monitor: what libvirt and the image may no longer say). */
  const liveBitmaps = async (): Promise<string[]> => {
    const out = JSON.parse(await virsh(['qemu-monitor-command', domain.name, '{"execute":"query-named-block-nodes","arguments":{"flat":true}}'])) as { return: { 'dirty-bitmaps'?: { name: string }[] }[] }
    return out.return.flatMap((n) => (n['dirty-bitmaps'] ?? []).map((b) => b.name)).sort()
  }
  const expectFull = (r: BackupResult, reason: RegExp): void => {
    expect(r.reads).toEqual([{ disk: 'vda', read: 'full', reason: expect.stringMatching(reason) as unknown }])
    expect(r.parentId).toBeNull()
  }
  const expectIncremental = (r: BackupResult, base: string): void => {
    expect(r.reads).toEqual([{ disk: 'vda', read: 'incremental', base }])
    expect(r.parentId).toBe(base)
    // Only what was written since (1 MiB) is read, not the 64 MiB disk.
    expect(r.stats.bytesRead).toBeLessThan(8 * MiB)
  }
  const killQemu = async (): Promise<void> => {
    const pid = Number((await readFile(`/run/libvirt/qemu/${domain.name}.pid`, 'utf8')).trim())
    expect(pid).toBeGreaterThan(1)
    process.kill(pid, 'SIGKILL')
    await domain.waitForState('shut off', 30_000)
  }

  beforeAll(async () => {
    libvirt = await ensureLibvirt()
    dir = await makeTestDir('lb-crash-heal-')
    disk = await makeBlankDisk({ path: path.join(dir, 'vda.qcow2'), sizeBytes: 64 * MiB })
    domain = await createTestDomain({ disks: [{ path: disk, format: 'qcow2' }], dataDevice: 'none', agent: false })
    host = await startSshHost({ hostname: 'lb-kvm-crash' })
    fx = await engineFixture()
    await addRootHost(fx, host, 'kvm1')
    await domain.start()
  }, 300_000)

  afterAll(async () => {
    await fx.dispose()
    await host.stop()
    await domain.remove()
    await rm(dir, { recursive: true, force: true })
    await libvirt.stop()
  })

  it('QEMU killed between two hot backups: the next backup reads the whole disk and says why, the one after is incremental', async () => {
    await domain.writeDiskPattern('vda', { offset: 2 * MiB, length: MiB, pattern: 0x11 })
    const first = await backup()
    expectFull(first, /first restore point/)
    await exact(first)
    await domain.writeDiskPattern('vda', { offset: 8 * MiB, length: MiB, pattern: 0x22 })
    await killQemu()
    await domain.start()
    await domain.writeDiskPattern('vda', { offset: 16 * MiB, length: MiB, pattern: 0x33 })
    const second = await backup()
    expectFull(second, /Change tracking .* was lost .* not shut down cleanly.*whole disk.*next backup is incremental again/i)
    await exact(second)
    await domain.writeDiskPattern('vda', { offset: 24 * MiB, length: MiB, pattern: 0x44 })
    const third = await backup()
    expectIncremental(third, second.id)
    await exact(third)
    expect(await lifeboatCheckpoints()).toHaveLength(1)
  }, 300_000)

  it('the checkpoint deleted behind Lifeboat’s back (metadata only): full read, its bitmap removed, then incremental', async () => {
    const [cp] = await lifeboatCheckpoints()
    await virsh(['checkpoint-delete', domain.name, cp ?? '', '--metadata'])
    expect(await liveBitmaps()).toEqual([cp])
    await domain.writeDiskPattern('vda', { offset: 32 * MiB, length: MiB, pattern: 0x55 })
    const full = await backup()
    expectFull(full, /no longer exists/)
    await exact(full)
    // The orphaned bitmap is gone; only the new checkpoint's remains.
    const now = await lifeboatCheckpoints()
    expect(await liveBitmaps()).toEqual(now)
    await domain.writeDiskPattern('vda', { offset: 40 * MiB, length: MiB, pattern: 0x66 })
    const next = await backup()
    expectIncremental(next, full.id)
    await exact(next)
  }, 300_000)

  it('the bitmap removed from the image while the domain was off: full read, then incremental', async () => {
    const [cp] = await lifeboatCheckpoints()
    await virsh(['shutdown', domain.name]).catch(() => undefined)
    await domain.destroy()
    await run('qemu-img', ['bitmap', '--remove', disk, cp ?? ''])
    await domain.start()
    await domain.writeDiskPattern('vda', { offset: 48 * MiB, length: MiB, pattern: 0x77 })
    const full = await backup()
    expectFull(full, /Change tracking .* was lost/i)
    await exact(full)
    await domain.writeDiskPattern('vda', { offset: 50 * MiB, length: MiB, pattern: 0x78 })
    const next = await backup()
    expectIncremental(next, full.id)
    await exact(next)
  }, 300_000)

  it('the domain undefined and defined again (checkpoint metadata gone): full read, then incremental', async () => {
    // As after a move to another host or a restore of the domain definition: the images (with their persistent
    // bitmaps, written on a clean stop) come back, libvirt's checkpoint metadata does not.
    const [cp] = await lifeboatCheckpoints()
    const xml = await virsh(['dumpxml', '--inactive', domain.name])
    await virsh(['destroy', domain.name, '--graceful'])
    await virsh(['undefine', domain.name, '--checkpoints-metadata'])
    await writeFile(path.join(dir, 'redefine.xml'), xml)
    await virsh(['define', path.join(dir, 'redefine.xml')])
    await domain.start()
    expect(await lifeboatCheckpoints()).toEqual([])
    expect(await liveBitmaps()).toEqual([cp])
    await domain.writeDiskPattern('vda', { offset: 56 * MiB, length: MiB, pattern: 0x88 })
    const full = await backup()
    expectFull(full, /no longer exists/)
    await exact(full)
    expect(await liveBitmaps()).toEqual(await lifeboatCheckpoints())
    await domain.writeDiskPattern('vda', { offset: 60 * MiB, length: MiB, pattern: 0x99 })
    const next = await backup()
    expectIncremental(next, full.id)
    await exact(next)
  }, 300_000)
})
