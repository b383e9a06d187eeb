import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { copyFile, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BackupOptions, BlockSource, JsonValue, RestoreRequest } from '../host-adapter'
import { RootShell } from '../ssh/root-shell'
import { SshConnection } from '../ssh/ssh-connection'
import { makeBlankDisk, makeTestDir } from '../../test-hosts/data-disk'
import { faultyConnection, type CommandLog } from '../../test-hosts/faulty-ssh'
import { canRunLibvirt, ensureLibvirt, virsh, type LibvirtHandle } from '../../test-hosts/libvirt'
import { blockList, hasJobs, taggedFiles } from '../../test-hosts/libvirt-inspect'
import { run } from '../../test-hosts/run'
import { canRunSshHosts, startSshHost, type SshTestHost } from '../../test-hosts/ssh-host'
import { createTestDomain, type TestDomain } from '../../test-hosts/test-domain'
import { beginLibvirtBackup } from './libvirt-backup'
import type { ShellProvider } from './libvirt-prepare'
import { restoreLibvirtVm } from './libvirt-restore'
import { libvirtSnapshots } from './libvirt-snapshots'
import { beginManualBackup } from './manual-backup'
import { restoreManualVm } from './manual-restore'
import type { ManualVm } from './manual-vms'

const MiB = 1024 * 1024
/** Walk every step of the slow flows too (cold backups: each step shuts the guest down and boots it again). */
const WALK_ALL = process.env.LIFEBOAT_WALK_ALL === '1'
/**
 * The commands that change something on the host (or hand it back): failing one and cancelling right after it are
 * the runs that tell an undo registered too early from one registered too late. Read-only steps in between add
 * little, so `npm test` walks only these for the libvirt backups (each run there costs seconds of virsh calls).
 */
const ACTION = /flock -n|domfsfreeze|domfsthaw| suspend | resume | checkpoint-create | snapshot-create-as | backup-begin|unix socket|socat|shutdown|destroy| start /
const actions = (steps: number, commands: readonly string[]) => (WALK_ALL ? range(1, steps) : range(1, steps).filter((n) => ACTION.test(commands[n - 1] ?? '')))
/** Only these steps (comma-separated), for looking into one failure. */
const WALK_STEPS = process.env.LIFEBOAT_WALK_STEPS?.split(',').map(Number)
/**
 * Every libvirt step costs seconds of virsh round trips and TCG time: a full walk of all flows takes half an hour on
 * the 2-core CI machine. `npm test` therefore walks a rotating sample of each flow's chosen steps (the first, the
 * last, and one more picked by LIFEBOAT_WALK_SEED, default the day of the month), so that every step is walked over
 * a month of CI runs; LIFEBOAT_WALK_FULL=1 (or LIFEBOAT_WALK_ALL=1) walks every chosen step.
 */
const WALK_FULL = WALK_ALL || process.env.LIFEBOAT_WALK_FULL === '1'
const WALK_SEED = Number(process.env.LIFEBOAT_WALK_SEED ?? new Date().getUTCDate())
function sample(chosen: readonly number[]): number[] {
  if (WALK_FULL || chosen.length <= 3) return [...chosen]
  const inner = chosen.slice(1, -1)
  const middle = inner[WALK_SEED % inner.length]
  return [chosen[0], middle, chosen[chosen.length - 1]].filter((n): n is number => n !== undefined)
}

// Each flow runs once cleanly to count its host commands; then, for every step N, once with command N failing
// (exit 1 without running) and once cancelled right after command N; after each run the host must be as before.
describe.skipIf(!canRunLibvirt().ok || !canRunSshHosts().ok)('a Linux flow failed or cancelled after any step leaves nothing on the host', () => {
  let libvirt: LibvirtHandle
  let host: SshTestHost
  let conn: SshConnection
  let log: CommandLog
  let getShell: ShellProvider
  let domain: TestDomain
  let offDomain: TestDomain
  let uuid = ''
  let dir = ''
  let mnt = ''
  const disks: Record<string, string> = {}
  const jobIds = new Set<string>()
  const timings: string[] = []

  beforeAll(async () => {
    libvirt = await ensureLibvirt()
    dir = await makeTestDir('lb-undo-walk-')
    disks.vda = await makeBlankDisk({ path: path.join(dir, 'vda.qcow2'), sizeBytes: 16 * MiB })
    disks.vdb = await makeBlankDisk({ path: path.join(dir, 'vdb.raw'), sizeBytes: 8 * MiB, format: 'raw' })
    disks.off = await makeBlankDisk({ path: path.join(dir, 'off.qcow2'), sizeBytes: 8 * MiB })
    // A registered VM's disk on btrfs (mounted before sshd starts: its namespace must see the mount).
    mnt = path.join(dir, 'mnt')
    await mkdir(mnt)
    await run('truncate', ['-s', '256M', path.join(dir, 'fs.img')])
    await run('mkfs.btrfs', ['-q', path.join(dir, 'fs.img')])
    await run('mount', ['-o', 'loop', path.join(dir, 'fs.img'), mnt])
    await run('btrfs', ['subvolume', 'create', path.join(mnt, 'vms')])
    await writeFile(path.join(mnt, 'vms', 'app.img'), randomBytes(4 * MiB))
    await writeFile(path.join(dir, 'running'), '')
    domain = await createTestDomain({ disks: [{ path: disks.vda, format: 'qcow2' }, { path: disks.vdb, format: 'raw' }], dataDevice: 'none' })
    offDomain = await createTestDomain({ disks: [{ path: disks.off, format: 'qcow2' }], dataDevice: 'none', agent: false })
    host = await startSshHost({ hostname: 'lb-walk', extraConfig: [`SetEnv LIFEBOAT_VMS_FILE=${path.join(dir, 'vms.json')}`] })
    await domain.start()
    await domain.waitForAgent(120_000)
    uuid = (await virsh(['domuuid', domain.name])).trim()
    conn = await SshConnection.connect({ host: host.address, port: 22, username: 'root', secret: { type: 'key', privateKey: host.clientPrivateKey }, pinnedFingerprint: host.fingerprint }, AbortSignal.timeout(30_000))
    const faulty = faultyConnection(conn)
    log = faulty.log
    RootShell.remember(faulty.conn, '0')
    const shell = await RootShell.for(faulty.conn)
    getShell = () => Promise.resolve(shell)
  }, 300_000)

  afterAll(async () => {
    console.log(`undo walk timings:\n${timings.join('\n')}`)
    await conn.close()
    await host.stop()
    await domain.remove()
    await offDomain.remove()
    await run('umount', [mnt]).catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
    await libvirt.stop()
  })

  /**
   * Runs `flow` cleanly (its step count: the host commands it sends before handing back), then fails and cancels it
   * after each step `pick` chooses, checking the host after every run. `flow` resolves with the step count.
   */
  async function walk(label: string, flow: (signal: AbortSignal) => Promise<number>, check: () => Promise<void>, pick: (steps: number, commands: readonly string[]) => number[] = (n) => range(1, n)): Promise<void> {
    const started = Date.now()
    log.reset({ kind: 'none' })
    const steps = await flow(AbortSignal.timeout(300_000))
    const commands = log.commands.slice(0, steps)
    await check()
    const chosen = WALK_STEPS ?? sample(pick(steps, commands))
    console.log(`${label}: ${steps} steps; walking ${chosen.join(', ')}${WALK_FULL ? '' : ' (a sample; LIFEBOAT_WALK_FULL=1 walks all)'}`)
    for (const n of chosen) {
      for (const kind of ['fail', 'cancel'] as const) {
        const controller = new AbortController()
        log.reset(kind === 'fail' ? { kind, at: n } : { kind, at: n, controller })
        const outcome = await flow(controller.signal).then(
          () => 'it completed',
          (err: unknown) => `it threw "${err instanceof Error ? err.message.slice(0, 400) : String(err)}"`,
        )
        await check().catch((err: unknown) => {
          throw new Error(`${label}: ${kind} at step ${n}/${steps} (${commands[n - 1] ?? '?'}); ${outcome}. The host is not clean: ${err instanceof Error ? err.message : String(err)}`)
        })
      }
    }
    timings.push(`${label}: ${steps} steps, walked ${chosen.length} × 2 in ${Math.round((Date.now() - started) / 1000)} s`)
  }

  const options = (mode: BackupOptions['mode'], extra: Partial<BackupOptions> = {}): BackupOptions => {
    const jobId = randomUUID()
    jobIds.add(jobId)
    return { mode, quiesce: true, shutdownTimeoutMs: 60_000, forceOffAfterTimeout: false, jobId, log: () => undefined, phase: () => undefined, ...extra }
  }
  /** A backup flow: begin, then finish as a failed backup would (the point is not committed). */
  const backup = (make: () => BackupOptions) => async (signal: AbortSignal) => {
    const session = await beginLibvirtBackup(getShell, uuid, make(), signal)
    const steps = log.count
    const { leftBehind } = await session.finish(AbortSignal.timeout(300_000), { committed: false })
    expect(leftBehind, `left behind: ${leftBehind.join(' | ')}`).toEqual([])
    return steps
  }
  const ours = async (dirs: readonly string[]) => (await taggedFiles(dirs)).filter((f) => [...jobIds].some((id) => f.includes(id)))
  const checkpoints = async (name: string) => (await virsh(['checkpoint-list', name, '--name'])).trim().split('\n').filter((l) => l !== '')
  const domainClean = (expected: { state: string; checkpoints: () => readonly string[] }) => async () => {
    expect((await virsh(['domstate', domain.name])).trim()).toBe(expected.state)
    const blk = await blockList(domain.name)
    expect(blk).toContain(`vda ${disks.vda ?? ''}`)
    expect(blk).toContain(`vdb ${disks.vdb ?? ''}`)
    const jobs = await hasJobs(domain.name, ['vda', 'vdb'])
    expect(jobs, `block jobs: ${jobs.join(', ')}`).toEqual([])
    expect((await virsh(['snapshot-list', domain.name, '--name'])).trim()).toBe('')
    const cps = await checkpoints(domain.name)
    expect(cps, `checkpoints: ${cps.join(', ')}`).toEqual(expected.checkpoints())
    const files = await ours([dir, '/var/tmp'])
    expect(files, `files left: ${files.join(', ')}`).toEqual([])
    if (expected.state === 'running') expect(await domain.agent<string>('guest-fsfreeze-status')).toBe('thawed')
  }
  const noCheckpoints = () => []

  it('hot backup with freeze, checkpoint and overlays: every step that acts (all with LIFEBOAT_WALK_ALL=1)', async () => {
    await walk('libvirt hot', backup(() => options('hot')), domainClean({ state: 'running', checkpoints: noCheckpoints }), actions)
  }, 900_000)

  it('warm backup (suspend, resume): every step that acts', async () => {
    await walk('libvirt warm', backup(() => options('warm')), domainClean({ state: 'running', checkpoints: noCheckpoints }), actions)
  }, 900_000)

  it('incremental backup through a pull backup job: every step that acts', async () => {
    const first = await beginLibvirtBackup(getShell, uuid, options('hot', { quiesce: false }), AbortSignal.timeout(120_000))
    const token = first.incrementalToken as JsonValue
    expect((await first.finish(AbortSignal.timeout(120_000), { committed: true })).leftBehind).toEqual([])
    const kept = await checkpoints(domain.name)
    expect(kept).toHaveLength(1)
    try {
      await walk('libvirt incremental', backup(() => options('hot', { previous: { pointId: 'p1', token } })), domainClean({ state: 'running', checkpoints: () => kept }), actions)
    } finally {
      for (const c of await checkpoints(domain.name)) await virsh(['checkpoint-delete', domain.name, `--checkpointname=${c}`])
    }
  }, 900_000)

  it('a committed backup keeps its checkpoint and drops the older Lifeboat ones; an uncommitted one drops its own', async () => {
    const made: string[] = []
    for (const committed of [true, true, false]) {
      const s = await beginLibvirtBackup(getShell, uuid, options('hot', { quiesce: false }), AbortSignal.timeout(120_000))
      expect((await s.finish(AbortSignal.timeout(120_000), { committed })).leftBehind).toEqual([])
      made.push((await checkpoints(domain.name)).join(','))
    }
    expect(made[0]).toMatch(/^lifeboat-[0-9a-f-]{36}$/)
    expect(made[1]).toMatch(/^lifeboat-[0-9a-f-]{36}$/)
    expect(made[1]).not.toBe(made[0])
    expect(made[2]).toBe(made[1])
    for (const c of await checkpoints(domain.name)) await virsh(['checkpoint-delete', domain.name, `--checkpointname=${c}`])
  }, 300_000)

  it('cold backup: the acting steps up to the shutdown, the first after it and the last (every step with LIFEBOAT_WALK_ALL=1)', async () => {
    const check = domainClean({ state: 'running', checkpoints: noCheckpoints })
    const flow = backup(() => options('cold'))
    await walk(
      'libvirt cold',
      async (signal) => {
        try {
          return await flow(signal)
        } finally {
          // A guest that was started again is not back until it boots; the next run shuts it down through its agent.
          if ((await domain.state()) === 'running') await domain.waitForAgent(120_000)
        }
      },
      check,
      (steps, commands) => {
        if (WALK_ALL) return range(1, steps)
        const shutdown = commands.findIndex((c) => / shutdown /.test(c)) + 1
        return [...actions(shutdown, commands), shutdown + 1, steps]
      },
    )
  }, 1_800_000)

  it('restore as a new libvirt VM: every step removes what it made and nothing else', async () => {
    const storage = path.join(dir, 'restore')
    await mkdir(storage)
    const name = `${domain.name}-walk`
    const xml = await virsh(['dumpxml', '--inactive', domain.name])
    const request = (): RestoreRequest => ({
      vmConfig: { kind: 'libvirt', name: domain.name, uuid, xml },
      disks: [memoryDisk('vda', 4 * MiB), memoryDisk('vdb', 2 * MiB)],
      name,
      inPlace: false,
      start: false,
      storageDir: storage,
      log: () => undefined,
      phase: () => undefined,
      progress: () => undefined,
    })
    const check = async () => {
      expect(await readdir(storage)).toEqual([])
      expect((await virsh(['list', '--all', '--name'])).split('\n').map((l) => l.trim())).not.toContain(name)
    }
    await walk(
      'libvirt restore (new VM)',
      async (signal) => {
        await restoreLibvirtVm(getShell, request(), signal)
        const steps = log.count
        // Completed: remove it the way an admin would, so the next run starts from a clean host.
        await virsh(['undefine', name])
        await run('sh', ['-c', `rm -f -- '${storage}'/*`])
        return steps
      },
      check,
    )
  }, 900_000)

  it('restore in place over a shut-off VM: every step puts the original disk back; a finished one replaced it whole', async () => {
    const target = (await blockList(offDomain.name)).split('\n').map((l) => l.trim()).find((l) => l.endsWith(disks.off ?? '?'))?.split(' ')[0] ?? ''
    expect(target).toMatch(/^[a-z]+$/)
    const pristine = path.join(dir, 'off-pristine.qcow2')
    await copyFile(disks.off ?? '', pristine)
    const xmlBefore = await virsh(['dumpxml', '--inactive', offDomain.name])
    const original = await fileSum(disks.off ?? '')
    const { disk, data } = memoryDiskWithData(target, 8 * MiB)
    const expected = path.join(dir, 'expected.raw')
    await writeFile(expected, data)
    const check = async () => {
      expect(await fileSum(disks.off ?? ''), 'the original disk, byte for byte').toBe(original)
      expect((await readdir(dir)).filter((f) => f.includes('.lifeboat-'))).toEqual([])
      expect(await virsh(['dumpxml', '--inactive', offDomain.name])).toBe(xmlBefore)
      expect((await virsh(['domstate', offDomain.name])).trim()).toBe('shut off')
    }
    await walk(
      'libvirt restore (in place)',
      async (signal) => {
        const result = await restoreLibvirtVm(getShell, { vmConfig: { kind: 'libvirt', name: offDomain.name, uuid: 'x', xml: xmlBefore }, disks: [disk], name: offDomain.name, inPlace: true, start: false, log: () => undefined, phase: () => undefined, progress: () => undefined }, signal)
        const steps = log.count
        expect(result.leftBehind).toEqual([])
        expect((await readdir(dir)).filter((f) => f.includes('.lifeboat-'))).toEqual([])
        // qcow2 as the original was, or raw when the host had no qemu-img (a failed `command -v qemu-img` says so).
        const format = /<driver name='qemu' type='(qcow2|raw)'/.exec(await virsh(['dumpxml', '--inactive', offDomain.name]))?.[1] ?? '?'
        expect(result.disks).toEqual([{ name: target, path: disks.off, format }])
        await run('qemu-img', ['compare', '-q', '-f', format, '-F', 'raw', disks.off ?? '', expected])
        // Finished: put the original back the way an admin would, so the next run starts from the same VM.
        await copyFile(pristine, disks.off ?? '')
        await writeFile(path.join(dir, 'off.xml'), xmlBefore)
        await virsh(['define', path.join(dir, 'off.xml')])
        return steps
      },
      check,
    )
  }, 900_000)

  it('"snapshot before patching": a snapshot made but not handed back is deleted again', async () => {
    const snapshots = libvirtSnapshots(getShell)
    const offUuid = (await virsh(['domuuid', offDomain.name])).trim()
    const check = async () => expect((await virsh(['snapshot-list', offDomain.name, '--name'])).trim()).toBe('')
    await walk(
      'libvirt snapshot create',
      async (signal) => {
        const made = await snapshots.create(offUuid, { label: 'walk', quiesce: false }, signal)
        const steps = log.count
        await virsh(['snapshot-delete', offDomain.name, `--snapshotname=${made.name}`])
        return steps
      },
      check,
    )
  }, 900_000)

  describe('registered VMs', () => {
    const flag = () => path.join(dir, 'running')
    const suspended = () => path.join(dir, 'suspended')
    const vm = (): ManualVm => ({
      id: 'manual-walk',
      name: 'app (walk)',
      disks: [{ name: 'xvda', path: path.join(mnt, 'vms', 'app.img') }],
      commands: { status: `test -e '${flag()}'`, stop: `rm -f '${flag()}'`, start: `touch '${flag()}'`, suspend: `touch '${suspended()}'`, resume: `rm -f '${suspended()}'` },
    })
    const check = async () => {
      expect((await run('sh', ['-c', `test -e '${flag()}' && ! test -e '${suspended()}' && echo ok`])).stdout.trim()).toBe('ok')
      expect((await run('btrfs', ['subvolume', 'list', mnt])).stdout).not.toContain('lifeboat')
      expect(await ours(['/var/tmp'])).toEqual([])
    }
    const manual = (mode: BackupOptions['mode']) => async (signal: AbortSignal) => {
      const session = await beginManualBackup(getShell, vm(), options(mode, { quiesce: false, shutdownTimeoutMs: 10_000 }), signal)
      const steps = log.count
      expect((await session.finish(AbortSignal.timeout(120_000))).leftBehind).toEqual([])
      return steps
    }

    it('warm backup of a file on btrfs (suspend, snapshot, resume): every step', async () => {
      await walk('manual warm (btrfs)', manual('warm'), check)
    }, 900_000)

    it('cold backup (stop, read, start): every step', async () => {
      await walk('manual cold', manual('cold'), check)
    }, 900_000)

    it('restore as new raw files: every step removes its own files and nothing else', async () => {
      const storage = path.join(dir, 'manual-restore')
      await mkdir(storage)
      await writeFile(path.join(storage, 'keep.txt'), 'not Lifeboat’s')
      const registered = async () => (await run('sh', ['-c', `cat '${path.join(dir, 'vms.json')}' 2>/dev/null || true`])).stdout
      const before = await registered()
      await walk(
        'manual restore',
        async (signal) => {
          await restoreManualVm(getShell, { vmConfig: { kind: 'manual', name: 'app', disks: [{ name: 'xvda', path: '/x' }] }, disks: [memoryDisk('xvda', 2 * MiB)], name: 'app-copy', inPlace: false, start: false, storageDir: storage, log: () => undefined, phase: () => undefined, progress: () => undefined }, signal)
          const steps = log.count
          await rm(path.join(storage, 'app-copy-xvda.raw'))
          if (before === '') await rm(path.join(dir, 'vms.json'), { force: true })
          else await writeFile(path.join(dir, 'vms.json'), before)
          return steps
        },
        async () => {
          expect(await readdir(storage)).toEqual(['keep.txt'])
          expect(await registered()).toBe(before)
        },
      )
    }, 900_000)
  })
})

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i)
}

/** A restore point's disk as the engine hands it over: guest bytes, here a random first MiB and zeros after. */
function memoryDisk(name: string, size: number): RestoreRequest['disks'][number] {
  return memoryDiskWithData(name, size).disk
}

function memoryDiskWithData(name: string, size: number): { disk: RestoreRequest['disks'][number]; data: Buffer } {
  const data = Buffer.concat([randomBytes(MiB), Buffer.alloc(size - MiB)])
  const source: BlockSource = {
    size,
    label: name,
    read: (offset, length) => Promise.resolve(Buffer.from(data.subarray(offset, offset + length))),
    close: () => Promise.resolve(),
  }
  return { disk: { name, size, source }, data }
}

async function fileSum(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex')
}
