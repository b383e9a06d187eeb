import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { lifeboatBin } from '../../e2e/support/cli'
import { makeExt4DataDisk, makeTestDir } from '../../test-hosts/data-disk'
import { agentCommand, guestExec, waitForAgentReady } from '../../test-hosts/guest-agent'
import { canRunLibvirt, ensureLibvirt, virsh, type LibvirtHandle } from '../../test-hosts/libvirt'
import { sleep } from '../../test-hosts/run'
import { canRunSshHosts, cutSshSessions, refuseSshConnections, startSshHost, type SshTestHost } from '../../test-hosts/ssh-host'
import { createTestDomain, type TestDomain } from '../../test-hosts/test-domain'
import type { InstantRunDto, PointRunResultDto } from '../api/contract-run'
import type { BackupResult } from './backup-job'
import { addRootHost, engineFixture, type EngineFixture } from './testing/linux-fixture'

const MiB = 1024 * 1024
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

async function domainExists(name: string): Promise<boolean> {
  return (await virsh(['list', '--all', '--name'])).split('\n').some((l) => l.trim() === name)
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await sleep(100)
  }
}

// Instant recovery on a real libvirt host (TCG): the tiny guest runs from its restore point, served by Lifeboat over
// NBD through the SSH connection (a unix socket sshd listens on), its writes in a qcow2 overlay on the host; made
// permanent it runs on without Lifeboat; stopped or discarded, nothing of it is left.
describe.skipIf(!canRunLibvirt().ok || !canRunSshHosts().ok)('running a VM from a restore point (libvirt)', () => {
  let libvirt: LibvirtHandle
  let host: SshTestHost
  let original: TestDomain
  let fx: EngineFixture
  let dir: string
  let point = ''
  let diskSha = ''
  const made: string[] = []
  const runIds: string[] = []

  /** Starts points.run and waits until the VM runs; returns the job id, the VM's name and the seconds that took. */
  const runPoint = async (name?: string) => {
    const started = Date.now()
    const { jobId } = await fx.call('points.run', { point, host: 'kvm1', ...(name !== undefined ? { name } : {}) })
    const vm = await waitFor('the VM running from the backup', async () => {
      const job = await fx.engine.jobs.get(jobId)
      if (job.state === 'failed') throw new Error(`points.run failed: ${JSON.stringify(job.error)} ${job.log.map((l) => l.message).join(' | ')}`)
      return job.progress.phase === 'running' ? job.progress.detail : undefined
    })
    made.push(vm)
    runIds.push(jobId)
    return { jobId, vm, seconds: (Date.now() - started) / 1000 }
  }
  /** What a run could have left on the host. */
  const leftOnHost = async (vm: string, jobId: string, overlay: string) => {
    const left: string[] = []
    if (await domainExists(vm)) left.push(`domain ${vm}`)
    for (const p of [overlay, `/var/log/libvirt/qemu/${vm}.log`, `/var/tmp/lifeboat-run.${jobId}`]) if (existsSync(p)) left.push(p)
    for (const f of await readdir('/var/tmp')) if (f.includes(jobId)) left.push(`/var/tmp/${f}`)
    return left
  }

  beforeAll(async () => {
    libvirt = await ensureLibvirt()
    dir = await makeTestDir('lb-point-run-')
    const files = path.join(dir, 'files')
    await mkdir(files)
    await writeFile(path.join(files, 'from-backup.txt'), 'written before the backup\n')
    const disk = await makeExt4DataDisk({ fromDir: files, path: path.join(dir, 'data.raw'), sizeBytes: 32 * MiB, format: 'raw' })
    diskSha = sha(await readFile(disk))
    original = await createTestDomain({ disks: [{ path: disk, format: 'raw' }] })
    host = await startSshHost({ hostname: 'lb-kvm-run' })
    fx = await engineFixture()
    await addRootHost(fx, host, 'kvm1')
    const { jobId } = await fx.call('backup.start', { host: 'kvm1', vm: original.name, mode: 'cold' })
    const job = await fx.job(jobId)
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded')
    point = (job.result as unknown as BackupResult).id
  }, 300_000)

  afterAll(async () => {
    for (const vm of made) {
      if (!(await domainExists(vm).catch(() => false))) continue
      await virsh(['destroy', vm]).catch(() => '')
      await virsh(['undefine', vm]).catch(() => '')
    }
    // A failed assertion leaves a run's sockets: they must not outlive this file.
    for (const id of runIds) await rm(`/var/tmp/lifeboat-run.${id}`, { recursive: true, force: true })
    await fx.dispose()
    await host.stop()
    await original.remove()
    await rm(dir, { recursive: true, force: true })
    await libvirt.stop()
  })

  it('runs from the backup (agent answers, writes land in the overlay, the point is unchanged), then made permanent it runs on without Lifeboat', async () => {
    const { jobId, vm, seconds } = await runPoint()
    expect(vm).toBe(`${original.name}-from-backup`)
    console.log(`points run: the VM was running ${seconds.toFixed(1)} s after "run"`)
    await waitForAgentReady(vm, 120_000, () => Promise.resolve(''))
    const xml = await virsh(['dumpxml', vm])
    expect(xml).toMatch(/<driver name='qemu' type='qcow2' error_policy='stop' rerror_policy='stop'\/>/)
    expect(xml).toContain(`socket='/var/tmp/lifeboat-run.${jobId}/vda.sock'`)
    const [run] = (await fx.call('runs.list', { host: 'kvm1' })).filter((r) => r.name === vm)
    expect(run).toMatchObject({ runId: jobId, pointId: point, state: 'running', permanent: false, served: true })
    const overlay = run?.disks[0]?.overlay ?? ''
    expect(overlay).toBe(path.join(dir, `${vm}-vda.qcow2`))

    const marker = `written while running from the backup ${jobId}`
    const wrote = await guestExec(vm, ['/bin/sh', '-c', `cat /data/from-backup.txt && printf '%s\\n' '${marker}' > /data/marker.txt && sync`])
    expect(wrote).toMatchObject({ exitCode: 0, stdout: 'written before the backup\n' })
    expect((await readFile(overlay)).includes(Buffer.from(marker))).toBe(true)
    const verify = await fx.job((await fx.call('repo.verify', {})).jobId)
    expect(verify.state, JSON.stringify(verify.error)).toBe('succeeded')
    const exported = path.join(dir, 'point.raw')
    expect((await fx.job((await fx.call('points.export', { pointId: point, disk: 'vda', format: 'raw', output: exported })).jobId)).state).toBe('succeeded')
    expect(sha(await readFile(exported))).toBe(diskSha)

    const permanent = await fx.job((await fx.call('runs.makePermanent', { host: 'kvm1', name: vm })).jobId)
    expect(permanent.state, JSON.stringify(permanent.error)).toBe('succeeded')
    expect(permanent.result as unknown as InstantRunDto).toMatchObject({ name: vm, permanent: true })
    // The run's job sees it and stops serving by itself: the sockets and the lock are gone, the VM runs on.
    const ended = await fx.job(jobId, 30_000)
    expect(ended.state).toBe('succeeded')
    expect((ended.result as unknown as PointRunResultDto).outcome).toBe('permanent')
    expect(existsSync(`/var/tmp/lifeboat-run.${jobId}`)).toBe(false)
    expect(await virsh(['dumpxml', vm])).not.toContain('nbd')
    expect(await virsh(['dumpxml', '--inactive', vm])).not.toContain('nbd')
    expect((await virsh(['domstate', vm])).trim()).toBe('running')
    // Read from the disk, not the guest's cache: both the backup's file and the write are on host storage now.
    const read = await guestExec(vm, ['/bin/sh', '-c', 'echo 3 > /proc/sys/vm/drop_caches; cat /data/from-backup.txt /data/marker.txt'])
    expect(read).toMatchObject({ exitCode: 0, stdout: `written before the backup\n${marker}\n` })
    await expect(fx.call('runs.discard', { host: 'kvm1', name: vm })).rejects.toThrow(/made permanent/)
    await virsh(['destroy', vm])
    await virsh(['undefine', vm])
    await rm(overlay, { force: true })
  }, 600_000)

  it('Ctrl+C (the job cancelled) stops and discards: nothing is left on the host', async () => {
    const vm = `lbrun-${process.pid}-stop`
    const { jobId } = await runPoint(vm)
    const overlay = path.join(dir, `${vm}-vda.qcow2`)
    expect(existsSync(overlay)).toBe(true)
    await fx.call('jobs.cancel', { jobId })
    const job = await fx.job(jobId, 120_000)
    expect(job.state).toBe('cancelled')
    expect(job.leftBehind).toEqual([])
    expect(await leftOnHost(vm, jobId, overlay)).toEqual([])
  }, 300_000)

  it('discarded from elsewhere (runs discard): the VM and its files go, and the serving job ends by itself', async () => {
    const vm = `lbrun-${process.pid}-discard`
    const { jobId } = await runPoint(vm)
    const overlay = path.join(dir, `${vm}-vda.qcow2`)
    expect(await fx.call('runs.discard', { host: 'kvm1', name: vm })).toEqual({ leftBehind: [] })
    const job = await fx.job(jobId, 30_000)
    expect(job.state).toBe('succeeded')
    expect((job.result as unknown as PointRunResultDto).outcome).toBe('discarded-elsewhere')
    expect(await leftOnHost(vm, jobId, overlay)).toEqual([])
    await expect(fx.call('runs.discard', { host: 'kvm1', name: original.name })).rejects.toThrow(/not a VM Lifeboat runs from a restore point/)
  }, 300_000)

  it('the SSH connection lost while Lifeboat lives: the VM pauses on its next read, Lifeboat reconnects by itself, serves again and resumes it', async () => {
    const vm = `lbrun-${process.pid}-reconnect`
    const { jobId } = await runPoint(vm)
    const overlay = path.join(dir, `${vm}-vda.qcow2`)
    await waitForAgentReady(vm, 120_000, () => Promise.resolve(''))
    const log = async () => (await fx.engine.jobs.get(jobId)).log.map((l) => l.message)

    // A network drop: every SSH session of the host ends, the streamlocal forwards (the disks' sockets) with them.
    await cutSshSessions(host)
    // A read the guest's cache cannot answer (caches dropped, the whole disk read): it goes to the backup. The agent
    // does not answer while the VM is paused, so its status is asked again until the read has finished.
    const { pid } = await agentCommand<{ pid: number }>(vm, 'guest-exec', { path: '/bin/sh', arg: ['-c', 'echo 3 > /proc/sys/vm/drop_caches; cat /data/from-backup.txt && cat /dev/vda > /dev/null'], 'capture-output': true })
    const status = await waitFor('the guest finishing its read of the backup', async () => {
      const st = await agentCommand<{ exited: boolean; exitcode?: number; 'out-data'?: string }>(vm, 'guest-exec-status', { pid }, 5).catch(() => undefined)
      return st?.exited === true ? st : undefined
    }, 180_000)
    expect({ exitCode: status.exitcode, stdout: Buffer.from(status['out-data'] ?? '', 'base64').toString() }).toEqual({ exitCode: 0, stdout: 'written before the backup\n' })

    const said = (await log()).join('\n')
    console.log(`points run, SSH cut: ${(await log()).filter((l) => /lost|Reconnect|paused|resumed/.test(l)).join(' | ')}`)
    // Noticed from the connection's close, said in plain words; served again on a new connection without any help.
    expect(said).toMatch(new RegExp(`The SSH connection to kvm1 was lost \\(.*\\); ${vm} pauses on its next read of the backup; reconnecting…`))
    expect(said).toMatch(new RegExp(`Reconnected to kvm1 after [0-9.]+ s: ${vm} is served again`))
    // The read found nobody serving (or the dead connection) and paused the VM; the job resumed it.
    expect(said).toMatch(/had paused on a read of the backup and was resumed|paused on an I\/O error reading the backup; it is served, so it is resumed/)
    expect((await virsh(['domstate', vm])).trim()).toBe('running')
    await agentCommand(vm, 'guest-ping')
    // The run's lock is held again: served, and the leftovers check does not offer it.
    const [run] = (await fx.call('runs.list', { host: 'kvm1' })).filter((r) => r.name === vm)
    expect(run).toMatchObject({ runId: jobId, served: true, stalled: false })
    expect((await fx.call('leftovers.list', { host: 'kvm1' })).filter((x) => x.vmName === vm)).toEqual([])
    const verify = await fx.job((await fx.call('repo.verify', {})).jobId)
    expect(verify.state, JSON.stringify(verify.error)).toBe('succeeded')
    expect((await fx.engine.jobs.get(jobId)).state).toBe('running')

    await fx.call('jobs.cancel', { jobId })
    const job = await fx.job(jobId, 120_000)
    expect(job.state).toBe('cancelled')
    expect(job.leftBehind).toEqual([])
    expect(await leftOnHost(vm, jobId, overlay)).toEqual([])
  }, 400_000)

  it('the host out of reach after the drop: the job keeps trying and shows it; Ctrl+C then names the VM and the command that discards it', async () => {
    const vm = `lbrun-${process.pid}-unreachable`
    const { jobId } = await runPoint(vm)
    const overlay = path.join(dir, `${vm}-vda.qcow2`)
    const admit = await refuseSshConnections(host)
    try {
      await cutSshSessions(host)
      const down = await waitFor('two failed tries to reconnect', async () => {
        const job = await fx.engine.jobs.get(jobId)
        return job.log.filter((l) => /^Reconnecting to kvm1 failed \(try \d+\): .*Trying again in \d+ s/.test(l.message)).length >= 2 ? job : undefined
      }, 60_000)
      expect(down.progress).toMatchObject({ phase: 'reconnecting', detail: expect.stringMatching(new RegExp(`^${vm}: reconnecting to kvm1`)) as unknown })
      // Two tries failed: the one going on (or waiting) is the second or the third, as a figure of its own.
      expect(down.progress.attempt).toBeGreaterThanOrEqual(2)
      expect(down.state).toBe('running')
      await fx.call('jobs.cancel', { jobId })
      const job = await fx.job(jobId, 300_000)
      expect(job.state).toBe('cancelled')
      console.log(`points run, host out of reach, cancelled: left behind: ${job.leftBehind.join(' | ')}`)
      expect(job.leftBehind.join('\n')).toContain(`discard it with lifeboat runs discard ${vm} --host kvm1`)
    } finally {
      await admit()
    }
    // What it names is true and enough: discarded later, and the job's lock file (it holds nothing) cleaned by the
    // leftovers check, nothing of the run is left.
    expect(await fx.call('runs.discard', { host: 'kvm1', name: vm })).toEqual({ leftBehind: [] })
    const files = (await fx.call('leftovers.list', { host: 'kvm1' })).filter((l) => l.jobId === jobId)
    expect(files.every((l) => l.kind === 'file' && l.safeToClean)).toBe(true)
    if (files.length > 0) expect((await fx.call('leftovers.clean', { host: 'kvm1', ids: files.map((l) => l.id) })).failed).toEqual([])
    expect(await leftOnHost(vm, jobId, overlay)).toEqual([])
  }, 400_000)

  it('runs discard while its job reconnects: refused while the host is out of reach (the job goes on); once it answers, the job stops serving first and ends saying so, nothing is left', async () => {
    const vm = `lbrun-${process.pid}-discard-reconnecting`
    const { jobId } = await runPoint(vm)
    const overlay = path.join(dir, `${vm}-vda.qcow2`)
    const failedTries = async () => (await fx.engine.jobs.get(jobId)).log.filter((l) => l.message.startsWith('Reconnecting to kvm1 failed')).length
    const admit = await refuseSshConnections(host)
    try {
      await cutSshSessions(host)
      await waitFor('a failed try to reconnect', async () => ((await failedTries()) >= 1 ? true : undefined), 60_000)
      await expect(fx.call('runs.discard', { host: 'kvm1', name: vm })).rejects.toThrow()
      expect((await fx.engine.jobs.get(jobId)).state).toBe('running')
      // The third failed try: the next one is 4 s away, time for the discard to come first (it may not: same outcome).
      await waitFor('three failed tries to reconnect', async () => ((await failedTries()) >= 3 ? true : undefined), 60_000)
    } finally {
      await admit()
    }
    expect(await fx.call('runs.discard', { host: 'kvm1', name: vm })).toEqual({ leftBehind: [] })
    // The discard waited for the job to stop serving: it ends at once, not after another try.
    const job = await fx.job(jobId, 15_000)
    expect(job.state).toBe('succeeded')
    expect((job.result as unknown as PointRunResultDto).outcome).toBe('discarded-elsewhere')
    expect(job.leftBehind).toEqual([])
    expect((await fx.engine.jobs.get(jobId)).log.map((l) => l.message)).toContain(`${vm} is being discarded (runs discard): serving ends first, so nothing is served again for it.`)
    expect(await leftOnHost(vm, jobId, overlay)).toEqual([])
  }, 400_000)

  it('discarded by another Lifeboat while the connection was down: the try that reaches the host finds it gone, serves nothing again, and the job ends', async () => {
    const vm = `lbrun-${process.pid}-gone-reconnecting`
    const { jobId } = await runPoint(vm)
    const overlay = path.join(dir, `${vm}-vda.qcow2`)
    const admit = await refuseSshConnections(host)
    try {
      await cutSshSessions(host)
      await waitFor('a failed try to reconnect', async () => ((await fx.engine.jobs.get(jobId)).log.some((l) => l.message.startsWith('Reconnecting to kvm1 failed')) ? true : undefined), 60_000)
      // What runs discard does, done on the host by someone else meanwhile (this machine is the test host).
      await virsh(['destroy', vm]).catch(() => '')
      await virsh(['undefine', vm])
      for (const p of [overlay, `/var/log/libvirt/qemu/${vm}.log`, `/var/tmp/lifeboat-run.${jobId}`]) await rm(p, { recursive: true, force: true })
    } finally {
      await admit()
    }
    const job = await fx.job(jobId, 60_000)
    expect(job.state).toBe('succeeded')
    expect((job.result as unknown as PointRunResultDto).outcome).toBe('discarded-elsewhere')
    const said = (await fx.engine.jobs.get(jobId)).log.map((l) => l.message)
    expect(said).toContain(`Reconnected to kvm1: ${vm} is no longer there (discarded elsewhere while the connection was down); serving ends.`)
    expect(said.filter((l) => l.startsWith('Reconnected to kvm1 after'))).toEqual([])
    // Its socket folder was not made anew for a VM that no longer exists, and the lost serving's lock file is gone.
    expect(job.leftBehind).toEqual([])
    expect(await leftOnHost(vm, jobId, overlay)).toEqual([])
  }, 400_000)

  it('Lifeboat killed while it serves: the leftovers check offers the VM (never cleans it unasked); --resume serves it again', async () => {
    const vm = `lbrun-${process.pid}-resume`
    const child = spawn(process.execPath, [lifeboatBin, 'points', 'run', point, '--host', 'kvm1', '--as', vm, '--home', fx.home], { stdio: ['ignore', 'pipe', 'ignore'] })
    const exited = new Promise<void>((resolve) => child.on('close', () => resolve()))
    let printed = ''
    child.stdout.on('data', (d: Buffer) => (printed += d.toString()))
    try {
      await waitFor('the CLI printing the running VM', () => Promise.resolve(printed.includes(vm) ? true : undefined), 180_000)
      made.push(vm)
      child.kill('SIGKILL')
      await exited
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
    const offered = await waitFor('the run offered as a leftover', async () => {
      const l = (await fx.call('leftovers.list', { host: 'kvm1' })).filter((x) => x.vmName === vm)
      return l.length > 0 ? l : undefined
    }, 30_000)
    expect(offered.map((l) => [l.kind, l.safeToClean])).toEqual([['vm', false]])
    expect(offered[0]?.description).toContain(`--resume ${vm}`)
    const [stale] = (await fx.call('runs.list', { host: 'kvm1' })).filter((r) => r.name === vm)
    if (stale !== undefined) runIds.push(stale.runId)
    expect(stale).toMatchObject({ served: false, permanent: false })

    const { jobId } = await fx.call('points.run', { point, host: 'kvm1', resume: vm })
    await waitFor('the run served again', async () => ((await fx.engine.jobs.get(jobId)).progress.phase === 'running' ? true : undefined))
    expect((await fx.call('leftovers.list', { host: 'kvm1' })).filter((x) => x.vmName === vm)).toEqual([])
    // A VM that paused on a read nobody served (or pauses on the first read after reconnecting) is resumed by the job.
    await waitFor('the guest agent answering after the resume', async () => {
      if ((await virsh(['domstate', vm])).trim() !== 'running') return undefined
      return (await agentCommand(vm, 'guest-ping', undefined, 2).then(() => true).catch(() => undefined))
    }, 180_000)
    // Read through the new connection: the guest's cache is dropped, so the file comes from the backup again.
    const read = await guestExec(vm, ['/bin/sh', '-c', 'echo 3 > /proc/sys/vm/drop_caches; cat /data/from-backup.txt'])
    expect(read).toMatchObject({ exitCode: 0, stdout: 'written before the backup\n' })
    expect((await virsh(['domstate', vm])).trim()).toBe('running')
    await fx.call('jobs.cancel', { jobId })
    const job = await fx.job(jobId, 120_000)
    expect(job.leftBehind).toEqual([])
    expect(await domainExists(vm)).toBe(false)
  }, 400_000)
})
