import { randomBytes, randomUUID } from 'node:crypto'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LinuxAdapter } from '../../adapters/linux/linux-adapter'
import { makeTestDir } from '../../test-hosts/data-disk'
import { createFakeLvm, type FakeLvm } from '../../test-hosts/fake-lvm/fake-lvm'
import { run } from '../../test-hosts/run'
import { canRunSshHosts, startSshHost, type SshTestHost } from '../../test-hosts/ssh-host'
import { addRootHost, engineFixture, type EngineFixture } from './testing/linux-fixture'
import { pointDiskBytes } from './testing/point-bytes'

const MiB = 1024 * 1024

// Registered (non-libvirt) VMs: one on an LVM logical volume (the faithful fake LVM: no device-mapper here), one on a
// file in a btrfs subvolume (a real loop-mounted btrfs). Both are mounted before sshd starts, so its namespace sees them.
describe.skipIf(!canRunSshHosts().ok)('registered VMs on LVM and btrfs', () => {
  let lvm: FakeLvm
  let host: SshTestHost
  let fx: EngineFixture
  let dir: string
  let mnt: string
  let lvPath: string
  let lvData: Buffer
  let imgPath: string
  let imgData: Buffer

  beforeAll(async () => {
    lvm = await createFakeLvm()
    await lvm.createVg('vmvg', 1024 * MiB)
    lvData = randomBytes(96 * MiB)
    lvPath = await lvm.createLv('vmvg', 'web01-disk0', 96 * MiB, lvData)
    dir = await makeTestDir('lb-btrfs-')
    mnt = path.join(dir, 'mnt')
    await mkdir(mnt)
    await run('truncate', ['-s', '512M', path.join(dir, 'fs.img')])
    await run('mkfs.btrfs', ['-q', path.join(dir, 'fs.img')])
    await run('mount', ['-o', 'loop', path.join(dir, 'fs.img'), mnt])
    await run('btrfs', ['subvolume', 'create', path.join(mnt, 'vms')])
    imgPath = path.join(mnt, 'vms', 'app01.img')
    imgData = randomBytes(24 * MiB)
    await writeFile(imgPath, imgData)
    await writeFile(path.join(dir, 'running'), '')
    // The registered-VM file of this test host lives in its temp folder, not in the machine's /etc.
    const env = lvm.sshdConfig().map((l) => `${l} LIFEBOAT_VMS_FILE=${path.join(dir, 'vms.json')}`)
    host = await startSshHost({ hostname: 'lb-lvm', extraConfig: env })
    fx = await engineFixture()
    await addRootHost(fx, host, 'xen1')
    const flag = path.join(dir, 'running')
    const commands = { status: `test -e '${flag}'`, stop: `rm -f '${flag}'`, start: `touch '${flag}'`, suspend: 'true', resume: 'true' }
    await fx.call('manualVms.register', { host: 'xen1', name: 'web01 (xen, LVM)', disks: [{ name: 'xvda', path: lvPath }], commands })
    await fx.call('manualVms.register', { host: 'xen1', name: 'app01', disks: [{ name: 'xvda', path: imgPath }], commands })
  }, 120_000)

  afterAll(async () => {
    await fx.dispose()
    await host.stop()
    await run('umount', [mnt]).catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
    await lvm.stop()
  })

  const pointBytes = (pointId: string, disk: string): Promise<Buffer> => pointDiskBytes(fx.engine, pointId, disk)

  it('lists registered VMs with their state, and offers the modes their disks allow', async () => {
    expect(JSON.parse(await readFile(path.join(dir, 'vms.json'), 'utf8'))).toMatchObject({ version: 1 })
    const { vms } = await fx.call('vms.list', { host: 'xen1' })
    expect(vms.find((v) => v.name === 'web01 (xen, LVM)')).toMatchObject({ powerState: 'running', disks: [{ location: lvPath }] })
    const modes = await fx.call('backup.modes', { host: 'xen1', vm: 'web01 (xen, LVM)' })
    expect(modes.map((m) => [m.mode, m.available])).toEqual([['cold', true], ['warm', true], ['hot', true]])
  })

  it('hot backup of an LV through a tagged lvcreate -s snapshot, removed afterwards', async () => {
    const job = await fx.job((await fx.call('backup.start', { host: 'xen1', vm: 'web01 (xen, LVM)', mode: 'hot' })).jobId)
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded')
    const point = job.result as { id: string; consistency: string }
    expect(point.consistency).toBe('crash')
    expect((await pointBytes(point.id, 'xvda')).equals(lvData)).toBe(true)
    expect((await lvm.run('lvs', ['--noheadings', '-o', 'lv_name'])).stdout.trim()).toBe('web01-disk0')
  }, 120_000)

  it('an LVM snapshot that overflows while it is read fails the backup loudly, and is removed', async () => {
    const adapter = new LinuxAdapter({ endpoint: { kind: 'linux', address: host.address, port: 22, user: 'root' }, secret: { type: 'key', privateKey: host.clientPrivateKey }, pinnedFingerprint: host.fingerprint })
    try {
      const vm = (await adapter.inventory(AbortSignal.timeout(30_000))).vms.find((v) => v.name === 'web01 (xen, LVM)')
      const warnings: string[] = []
      const session = await adapter.backup.begin(vm?.id ?? '', {
        mode: 'hot', quiesce: false, shutdownTimeoutMs: 10_000, forceOffAfterTimeout: false, jobId: randomUUID(), changeBudget: { percent: 1 },
        log: (_l, m) => warnings.push(m), phase: () => undefined,
      }, AbortSignal.timeout(60_000))
      // The VM writes 24 MiB while the 16 MiB snapshot is being read.
      await lvm.write({ vg: 'vmvg', lv: 'web01-disk0', offset: 0, data: randomBytes(24 * MiB) })
      const readout = session.disks[0]?.readout
      if (readout?.kind !== 'file') throw new Error('expected a file readout')
      const reading = (async () => {
        for await (const chunk of readout.file.stream(0, readout.file.size)) expect(chunk.length).toBeGreaterThan(0)
      })()
      await expect(reading).rejects.toMatchObject({ code: 'COMMAND_FAILED', message: expect.stringContaining('overflowed') as unknown })
      expect((await session.finish(AbortSignal.timeout(60_000))).leftBehind).toEqual([])
      expect((await lvm.run('lvs', ['--noheadings', '-o', 'lv_name'])).stdout.trim()).toBe('web01-disk0')
    } finally {
      await adapter.close()
    }
  }, 120_000)

  it('warm and hot backups of a file on btrfs read a read-only subvolume snapshot, deleted afterwards', async () => {
    for (const mode of ['warm', 'hot'] as const) {
      const job = await fx.job((await fx.call('backup.start', { host: 'xen1', vm: 'app01', mode })).jobId)
      expect(job.state, JSON.stringify(job.error)).toBe('succeeded')
      expect((await pointBytes((job.result as { id: string }).id, 'xvda')).equals(imgData)).toBe(true)
    }
    const { stdout } = await run('btrfs', ['subvolume', 'list', mnt])
    expect(stdout).not.toContain('lifeboat')
  }, 120_000)

  it('cold: runs the stop command, reads the volume, runs the start command', async () => {
    const job = await fx.job((await fx.call('backup.start', { host: 'xen1', vm: 'app01', mode: 'cold' })).jobId)
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded')
    expect((job.result as { consistency: string }).consistency).toBe('offline')
    expect(job.log.map((l) => l.message).join('\n')).toMatch(/Phase: stop[\s\S]*Phase: start/)
    await expect(readFile(path.join(dir, 'running'))).resolves.toBeDefined()
  }, 120_000)

  it('restores a registered VM as new raw files, registered under the new name', async () => {
    const job = await fx.job((await fx.call('backup.start', { host: 'xen1', vm: 'app01', mode: 'hot' })).jobId)
    const target = await makeTestDir('lb-manual-restore-')
    try {
      const restored = await fx.job((await fx.call('restore.start', { point: (job.result as { id: string }).id, toHost: 'xen1', as: 'app01-copy', storageDir: target })).jobId)
      expect(restored.state, JSON.stringify(restored.error)).toBe('succeeded')
      expect((await readFile(path.join(target, 'app01-copy-xvda.raw'))).equals(imgData)).toBe(true)
      expect((await fx.call('manualVms.list', { host: 'xen1' })).map((v) => v.name)).toContain('app01-copy')
    } finally {
      await rm(target, { recursive: true, force: true })
    }
  }, 120_000)

  it('runs the pre and post scripts on the host; a failing pre script stops the backup, the post script still runs', async () => {
    const log = path.join(dir, 'hooks.log')
    const pre = `echo "pre $LIFEBOAT_PHASE $LIFEBOAT_VM_NAME $LIFEBOAT_MODE" >> '${log}'`
    const post = `echo "post $LIFEBOAT_OUTCOME" >> '${log}'`
    const ok = await fx.job((await fx.call('backup.start', { host: 'xen1', vm: 'app01', mode: 'hot', preHook: pre, postHook: post })).jobId)
    expect(ok.state, JSON.stringify(ok.error)).toBe('succeeded')
    expect(await readFile(log, 'utf8')).toBe('pre pre app01 hot\npost succeeded\n')
    const before = (await fx.call('points.list', {})).length
    const failed = await fx.job((await fx.call('backup.start', { host: 'xen1', vm: 'app01', mode: 'hot', preHook: 'echo not ready; exit 3', postHook: post })).jobId)
    expect(failed.state).toBe('failed')
    expect(failed.error?.message).toContain('pre-backup script exited with 3')
    expect(failed.log.map((l) => l.message).join('\n')).toContain('not ready')
    expect(await readFile(log, 'utf8')).toBe('pre pre app01 hot\npost succeeded\npost failed\n')
    expect((await fx.call('points.list', {})).length).toBe(before)
  }, 120_000)
})
