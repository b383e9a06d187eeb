import { randomUUID } from 'node:crypto'
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LinuxAdapter } from '../../adapters/linux/linux-adapter'
import { convertToRaw, makeBlankDisk, makeExt4DataDisk, makeTestDir } from '../../test-hosts/data-disk'
import { canRunLibvirt, ensureLibvirt, virsh, type LibvirtHandle } from '../../test-hosts/libvirt'
import { run } from '../../test-hosts/run'
import { canRunSshHosts, cutSshSessions, startSshHost, type SshTestHost } from '../../test-hosts/ssh-host'
import { createTestDomain, type TestDomain } from '../../test-hosts/test-domain'
import { addRootHost, blockList, engineFixture, hasJobs, rawBytes, taggedFiles, type EngineFixture } from './testing/linux-fixture'
import { pointDiskBytes } from './testing/point-bytes'

const MiB = 1024 * 1024

// One booted tiny guest shared by the tests below, in order (TCG boots cost seconds).
// vda: ext4 data disk (qcow2), mounted at /data by the guest. vdb: blank qcow2 written through the QEMU monitor.
// vdc: raw, 16 MiB. vdd: raw, VDD_MIB of random data — big enough to cancel, cut or power off a backup while it
// streams (the tests below check that each of these landed during the read, not after it).
const VDD_MIB = 128
describe.skipIf(!canRunLibvirt().ok || !canRunSshHosts().ok)('Linux host backups against libvirt over SSH', () => {
  let libvirt: LibvirtHandle
  let host: SshTestHost
  let domain: TestDomain
  let fx: EngineFixture
  let dir: string
  const disks: Record<string, string> = {}

  const pointBytes = (pointId: string, disk: string): Promise<Buffer> => pointDiskBytes(fx.engine, pointId, disk)
  /** Whether a job is still reading its disks (said in words for the assertion message). */
  const stillReading = async (jobId: string): Promise<string> => {
    const { state, progress } = await fx.engine.jobs.get(jobId)
    const reading = state === 'running' && progress.phase === 'backup' && (progress.bytesTotal === undefined || progress.bytesDone < progress.bytesTotal)
    return reading ? 'still reading' : `the job was already ${state}, ${progress.phase}, ${progress.bytesDone} of ${progress.bytesTotal ?? '?'} bytes`
  }
  const pointCount = async () => (await fx.call('points.list', {})).length
  const backup = async (mode: 'cold' | 'warm' | 'hot', extra: Record<string, unknown> = {}) => {
    const { jobId } = await fx.call('backup.start', { host: 'kvm1', vm: domain.name, mode, shutdownTimeoutSec: 60, ...extra })
    return jobId
  }
  const expectClean = async () => {
    expect(await blockList(domain.name)).toContain(`vdb ${disks.vdb ?? ''}`)
    expect(await blockList(domain.name)).toContain(`vda ${disks.vda ?? ''}`)
    expect(await hasJobs(domain.name, ['vda', 'vdb', 'vdc', 'vdd'])).toEqual([])
    expect(await taggedFiles([dir, '/var/tmp'])).toEqual([])
    expect((await virsh(['snapshot-list', domain.name, '--name'])).trim()).toBe('')
  }

  /**
   * A full hot backup read over a 160 Mbit/s link (see limitSending): vdd's 128 MiB of random data take ~7 s to arrive,
   * so `whileReading` (called once, as the first bytes are stored) surely acts mid-read — on the local link the whole
   * point, its holes skipped, could be read before a cancel, a cut or `virsh destroy` landed. Returns the ended job.
   */
  const hotBackupOverSlowLink = async (whileReading: (jobId: string) => void): Promise<Awaited<ReturnType<typeof fx.job>>> => {
    const unlimit = await host.limitSending(160)
    try {
      const jobId = await backup('hot', { incremental: false })
      let acted = false
      const off = fx.engine.events.on('job.updated', (j) => {
        if (j.id === jobId && j.progress.phase === 'backup' && j.progress.bytesDone > 0 && !acted) {
          acted = true
          whileReading(jobId)
        }
      })
      return await fx.job(jobId).finally(off)
    } finally {
      await unlimit()
    }
  }

  beforeAll(async () => {
    libvirt = await ensureLibvirt()
    dir = await makeTestDir('lb-linux-backup-')
    await mkdir(path.join(dir, 'files'))
    await writeFile(path.join(dir, 'files', 'hello.txt'), 'hello from the data disk\n')
    disks.vda = await makeExt4DataDisk({ fromDir: path.join(dir, 'files'), path: path.join(dir, 'vda.qcow2'), sizeBytes: 64 * MiB })
    disks.vdb = await makeBlankDisk({ path: path.join(dir, 'vdb.qcow2'), sizeBytes: 64 * MiB })
    disks.vdc = await makeBlankDisk({ path: path.join(dir, 'vdc.raw'), sizeBytes: 16 * MiB, format: 'raw' })
    disks.vdd = path.join(dir, 'vdd.raw')
    await run('sh', ['-c', `head -c ${VDD_MIB * MiB} /dev/urandom > '${disks.vdd}'`])
    domain = await createTestDomain({
      disks: [
        { path: disks.vda, format: 'qcow2' },
        { path: disks.vdb, format: 'qcow2' },
        { path: disks.vdc, format: 'raw' },
        { path: disks.vdd, format: 'raw' },
      ],
    })
    host = await startSshHost({ hostname: 'lb-kvm1' })
    fx = await engineFixture()
    await addRootHost(fx, host, 'kvm1')
    await domain.start()
    await domain.waitForAgent(120_000)
  }, 300_000)

  afterAll(async () => {
    await fx.dispose()
    await host.stop()
    await domain.remove()
    await rm(dir, { recursive: true, force: true })
    await libvirt.stop()
  })

  it('refuses a "before patching" snapshot it could not revert, and says why', async () => {
    await expect(fx.call('snapshots.create', { host: 'kvm1', vm: domain.name, label: 'patch' })).rejects.toMatchObject({ code: 'NOT_SUPPORTED', message: expect.stringContaining('not qcow2 (vdc, vdd)') as unknown })
  })

  let firstPoint = ''
  let vdbAtSnapshot: Buffer

  it('hot: the restore point is the disk at snapshot time, not a mix with writes made while it is read', async () => {
    await domain.writeDiskPattern('vdb', { offset: 4 * MiB, length: MiB, pattern: 0x11 })
    vdbAtSnapshot = await rawBytes(disks.vdb ?? '', path.join(dir, 'vdb-before.raw'))
    const jobId = await backup('hot')
    // As soon as bytes flow, write into the running disk: the write lands in the overlay, not in the base being read.
    let wrote = false
    let written: Promise<string> | undefined
    const off = fx.engine.events.on('job.updated', (j) => {
      if (j.id === jobId && j.progress.phase === 'backup' && !wrote) {
        wrote = true
        written = domain.writeDiskPattern('vdb', { offset: 4 * MiB, length: 2 * MiB, pattern: 0x22 }).then(() => stillReading(jobId))
      }
    })
    const job = await fx.job(jobId)
    off()
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded')
    expect(wrote).toBe(true)
    expect(await written, 'the write landed while the disks were read').toBe('still reading')
    const point = job.result as { id: string; consistency: string }
    expect(point.consistency).toBe('app')
    firstPoint = point.id
    expect((await pointBytes(point.id, 'vdb')).equals(vdbAtSnapshot)).toBe(true)
    expect((await pointBytes(point.id, 'vdd')).equals(await readFile(disks.vdd ?? ''))).toBe(true)
    await expectClean()
    // The write made during the backup is in the live disk after the merge.
    const live = await rawBytes(disks.vdb ?? '', path.join(dir, 'vdb-after.raw'))
    expect(live.subarray(4 * MiB, 6 * MiB).equals(Buffer.alloc(2 * MiB, 0x22))).toBe(true)
    expect(await domain.state()).toBe('running')
  }, 180_000)

  it('incremental: after a known write only the written extent of the qcow2 disk is read', async () => {
    await domain.writeDiskPattern('vdb', { offset: 20 * MiB, length: 3 * MiB, pattern: 0xab })
    const expected = await rawBytes(disks.vdb ?? '', path.join(dir, 'vdb-inc.raw'))
    const job = await fx.job(await backup('hot'))
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded')
    const point = job.result as { id: string; parentId: string | null; stats: { bytesRead: number } }
    expect(point.parentId).toBe(firstPoint)
    const changed = job.log.find((l) => l.message.startsWith('vdb: '))?.message ?? ''
    // The 2 MiB written during the first backup and the 3 MiB now: exactly those, nothing else.
    expect(changed).toMatch(/^vdb: 5242880 bytes changed since lifeboat-/)
    expect((await pointBytes(point.id, 'vdb')).equals(expected)).toBe(true)
    // Raw disks (vdc 16 MiB, vdd VDD_MIB) are read whole; qcow2 disks only where they changed.
    expect(point.stats.bytesRead).toBeLessThan((16 + VDD_MIB) * MiB + 32 * MiB)
    await expectClean()
    const checkpoints = (await virsh(['checkpoint-list', domain.name, '--name'])).trim().split('\n')
    expect(checkpoints).toEqual([expect.stringMatching(/^lifeboat-/)])
  }, 180_000)

  it('cancelled mid-stream: no snapshot, overlay, block job or restore point is left, the VM runs on its disks', async () => {
    const before = await pointCount()
    const job = await hotBackupOverSlowLink((jobId) => void fx.call('jobs.cancel', { jobId }))
    expect(job.state).toBe('cancelled')
    expect(job.leftBehind).toEqual([])
    expect(await pointCount()).toBe(before)
    await expectClean()
    expect(await domain.state()).toBe('running')
  }, 180_000)

  it('an SSH drop mid-stream fails the job clearly and the cleanup reconnects', async () => {
    const before = await pointCount()
    const job = await hotBackupOverSlowLink(() => void cutSshSessions(host))
    expect(job.state).toBe('failed')
    expect(job.error?.code, JSON.stringify(job.error)).toBe('CONNECTION_LOST')
    expect(job.leftBehind).toEqual([])
    expect(await pointCount()).toBe(before)
    await expectClean()
  }, 180_000)

  it('a crashed job leaves an overlay that is found on the next connect and merged back', async () => {
    const adapter = new LinuxAdapter({ endpoint: { kind: 'linux', address: host.address, port: 22, user: 'root' }, secret: { type: 'key', privateKey: host.clientPrivateKey }, pinnedFingerprint: host.fingerprint })
    await adapter.connect(AbortSignal.timeout(30_000))
    const crashedJob = randomUUID()
    const session = await adapter.backup.begin((await adapter.inventory(AbortSignal.timeout(30_000))).vms.find((v) => v.name === domain.name)?.id ?? '', {
      mode: 'hot', quiesce: false, shutdownTimeoutMs: 1000, forceOffAfterTimeout: false, jobId: crashedJob, incremental: false, log: () => undefined, phase: () => undefined,
    }, AbortSignal.timeout(60_000))
    expect(session.disks.length).toBe(4)
    await adapter.close() // the process "dies": no finish()
    expect(await blockList(domain.name)).toContain('.lifeboat-')
    const found = await fx.call('leftovers.list', { host: 'kvm1' })
    expect(found.filter((l) => l.kind === 'overlay' && l.safeToClean).length).toBe(4)
    // The next backup cleans them first, then runs normally.
    const job = await fx.job(await backup('hot', { incremental: false }))
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded')
    expect(job.log.some((l) => l.message.includes('an earlier Lifeboat job left'))).toBe(true)
    await expectClean().catch((err: unknown) => {
      throw new Error(`${String(err)}\njobs: crashed ${crashedJob}, cleaning ${job.id}\n${job.log.map((l) => l.message).join('\n')}`)
    })
  }, 180_000)

  it('overlays a crashed job left on a domain shut down since are merged offline on request', async () => {
    const adapter = new LinuxAdapter({ endpoint: { kind: 'linux', address: host.address, port: 22, user: 'root' }, secret: { type: 'key', privateKey: host.clientPrivateKey }, pinnedFingerprint: host.fingerprint })
    await adapter.connect(AbortSignal.timeout(30_000))
    const vmId = (await adapter.inventory(AbortSignal.timeout(30_000))).vms.find((v) => v.name === domain.name)?.id ?? ''
    await adapter.backup.begin(vmId, { mode: 'hot', quiesce: false, shutdownTimeoutMs: 1000, forceOffAfterTimeout: false, jobId: randomUUID(), incremental: false, log: () => undefined, phase: () => undefined }, AbortSignal.timeout(60_000))
    await adapter.close() // the process "dies"…
    await virsh(['destroy', domain.name]) // …and the admin switches the VM off
    expect(await blockList(domain.name)).toContain('.lifeboat-')
    const found = (await fx.call('leftovers.list', { host: 'kvm1' })).filter((l) => l.safeToClean)
    expect(found.filter((l) => l.kind === 'overlay').length).toBe(4)
    try {
      const result = await fx.call('leftovers.clean', { host: 'kvm1', ids: found.map((l) => l.id) })
      expect(result.failed).toEqual([])
      expect(result.cleaned.filter((id) => id.startsWith('overlay:')).length).toBe(4)
      await expectClean()
    } finally {
      if ((await domain.state()) !== 'running') await domain.start()
    }
    await domain.waitForAgent(120_000)
    await expectClean()
  }, 300_000)

  it('warm: suspend → snapshot → resume with the agent freezing the guest; the VM keeps running', async () => {
    const job = await fx.job(await backup('warm'))
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded')
    expect((job.result as { consistency: string }).consistency).toBe('app')
    expect(await domain.state()).toBe('running')
    await expectClean()
  }, 180_000)

  it('quiesce required: a guest whose filesystems cannot be frozen fails the backup, and nothing is left behind', async () => {
    const before = await pointCount()
    // Frozen from outside: the agent still answers a ping, but refuses a second freeze.
    await virsh(['domfsfreeze', domain.name])
    let job: Awaited<ReturnType<typeof fx.job>>
    try {
      job = await fx.job(await backup('hot', { requireQuiesce: true }))
    } finally {
      await virsh(['domfsthaw', domain.name])
    }
    expect(job.state).toBe('failed')
    expect(job.error?.message).toMatch(/could not freeze the filesystems of .*quiesce required/)
    expect(job.leftBehind).toEqual([])
    expect(await pointCount()).toBe(before)
    await expectClean()
    expect(await domain.state()).toBe('running')
  }, 180_000)

  it('the guest is powered off while its disks are read: the restore point is kept and the overlays are merged offline', async () => {
    let pulled = false
    let destroyed: Promise<string> | undefined
    let passed = false
    try {
      const job = await hotBackupOverSlowLink((jobId) => {
        pulled = true
        destroyed = virsh(['destroy', domain.name]).then(() => stillReading(jobId))
      })
      expect(pulled).toBe(true)
      expect(await destroyed, 'the guest was off before its disks were read to the end').toBe('still reading')
      expect(job.state, JSON.stringify(job.error)).toBe('succeeded')
      expect(job.leftBehind).toEqual([])
      // The persistent definition points at the disks themselves again; no overlay file is left.
      expect(await domain.state()).toBe('shut off')
      await expectClean()
      expect((await pointBytes((job.result as { id: string }).id, 'vdd')).equals(await readFile(disks.vdd ?? ''))).toBe(true)
      await domain.start()
      await domain.waitForAgent(120_000)
      await expectClean()
      passed = true
    } finally {
      // The tests after this one need the guest running, also when this one failed.
      if (!passed && (await domain.state()) !== 'running') await domain.start().then(() => domain.waitForAgent(120_000)).catch(() => undefined)
    }
  }, 300_000)

  let coldPoint = ''
  it('cold: shuts the guest down cleanly, reads, and starts it again', async () => {
    const job = await fx.job(await backup('cold'))
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded')
    expect((job.result as { consistency: string }).consistency).toBe('offline')
    coldPoint = (job.result as { id: string }).id
    expect(await domain.state()).toBe('running')
    await domain.waitForAgent(120_000)
    expect((await pointBytes(coldPoint, 'vdd')).equals(await readFile(disks.vdd ?? ''))).toBe(true)
  }, 240_000)

  it('restores a restore point to a second host as a new VM, byte-identical (qemu-img compare), and it boots', async () => {
    const second = await startSshHost({ hostname: 'lb-kvm2' })
    let hostId: string | undefined
    try {
      hostId = await addRootHost(fx, second, 'kvm2')
      const storage = await makeTestDir('lb-restore-')
      // Not started by the restore: the tiny guest mounts vda at boot (its superblock changes at offset 1024), so the
      // restored files are compared first and the VM started after, from the definition the restore wrote.
      const { jobId } = await fx.call('restore.start', { point: coldPoint, toHost: 'kvm2', as: `${domain.name}-copy`, storageDir: storage, start: false })
      const job = await fx.job(jobId)
      expect(job.state, JSON.stringify(job.error)).toBe('succeeded')
      const result = job.result as { vmId: string; started: boolean; disks: { name: string; path: string; format: string }[] }
      try {
        expect(result.started).toBe(false)
        const files = await readdir(storage)
        expect(files.sort()).toEqual([`${domain.name}-copy-vda.qcow2`, `${domain.name}-copy-vdb.qcow2`, `${domain.name}-copy-vdc.raw`, `${domain.name}-copy-vdd.raw`].sort())
        for (const d of result.disks) {
          const fromPoint = path.join(storage, `${d.name}.expected.raw`)
          await writeFile(fromPoint, await pointBytes(coldPoint, d.name))
          await run('qemu-img', ['compare', d.path, fromPoint])
        }
        expect((await virsh(['domstate', result.vmId])).trim()).toBe('shut off')
        await virsh(['start', result.vmId])
        expect((await virsh(['domstate', result.vmId])).trim()).toBe('running')
        await virsh(['destroy', result.vmId])
        const xml = await virsh(['dumpxml', result.vmId])
        expect(xml).not.toContain((await virsh(['domuuid', domain.name])).trim())
        expect(xml).toContain(storage)
      } finally {
        await virsh(['destroy', result.vmId]).catch(() => undefined)
        await virsh(['undefine', result.vmId]).catch(() => undefined)
        await run('rm', ['-rf', storage])
        await run('sh', ['-c', `rm -f /var/log/libvirt/qemu/${domain.name}-copy-*.log /var/log/libvirt/qemu/${domain.name}-copy.log`])
      }
    } finally {
      // A retry must be able to add the host again.
      if (hostId !== undefined) await fx.call('hosts.remove', { hostId }).catch(() => undefined)
      await second.stop()
    }
  }, 240_000)

  it('keeps the original disks untouched by a restore (sanity)', async () => {
    await convertToRaw(disks.vdb ?? '', path.join(dir, 'vdb-final.raw'))
    expect(await blockList(domain.name)).toContain(`vdb ${disks.vdb ?? ''}`)
  })
})
