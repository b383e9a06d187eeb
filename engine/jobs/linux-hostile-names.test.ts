import { readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeBlankDisk, makeTestDir } from '../../test-hosts/data-disk'
import { domainXml } from '../../test-hosts/domain-xml'
import { canRunLibvirt, ensureLibvirt, virsh, type LibvirtHandle } from '../../test-hosts/libvirt'
import { run } from '../../test-hosts/run'
import { canRunSshHosts, startSshHost, type SshTestHost } from '../../test-hosts/ssh-host'
import { ensureTinyGuest } from '../../test-hosts/tiny-guest/tiny-guest'
import { runCli } from '../../e2e/support/cli'
import { addRootHost, engineFixture, rawBytes, type EngineFixture } from './testing/linux-fixture'

const MiB = 1024 * 1024

// A shut-off domain whose name a shell would love to misread. Everything Lifeboat sends to the host goes through the
// quoting helper, so listing, snapshotting, backing up and restoring it must work and must run nothing it names.
const HOSTILE = `lbtest-${process.pid} evil 'q' "d" $(touch lb-pwned) ; \`id\` & x`
const HOSTILE_COPY = `${HOSTILE} copy \\ ü`

describe.skipIf(!canRunLibvirt().ok || !canRunSshHosts().ok)('hostile VM names on a Linux host', () => {
  let libvirt: LibvirtHandle
  let host: SshTestHost
  let fx: EngineFixture
  let dir: string
  let disk: string

  beforeAll(async () => {
    libvirt = await ensureLibvirt()
    const guest = await ensureTinyGuest()
    dir = await makeTestDir('lb-hostile-')
    disk = await makeBlankDisk({ path: path.join(dir, "disk 'one'; $(x).qcow2"), sizeBytes: 16 * MiB })
    await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x5a 1M 2M', disk])
    const xml = domainXml({
      name: HOSTILE,
      description: 'Lifeboat hostile-name test domain',
      memoryMiB: 128,
      vcpus: 1,
      kernel: guest.kernel,
      initrd: guest.initrd,
      cmdline: guest.cmdline,
      disks: [{ path: disk, format: 'qcow2', target: 'vda' }],
      consoleLogPath: path.join(dir, 'console.log'),
      agent: false,
    })
    await writeFile(path.join(dir, 'domain.xml'), xml)
    await virsh(['define', path.join(dir, 'domain.xml')])
    host = await startSshHost({ hostname: 'lb-hostile' })
    fx = await engineFixture()
    await addRootHost(fx, host, 'kvm-hostile')
  }, 120_000)

  afterAll(async () => {
    for (const name of [HOSTILE, HOSTILE_COPY]) await virsh(['undefine', name, '--snapshots-metadata', '--checkpoints-metadata']).catch(() => undefined)
    await fx.dispose()
    await host.stop()
    await rm(dir, { recursive: true, force: true })
    await libvirt.stop()
  })

  it('lists, snapshots, reverts, backs up and restores it without the shell running any of it', async () => {
    const vms = await fx.call('vms.list', { host: 'kvm-hostile' })
    const vm = vms.vms.find((v) => v.name === HOSTILE)
    expect(vm?.disks.map((d) => d.location)).toEqual([disk])

    const snap = await fx.call('snapshots.create', { host: 'kvm-hostile', vm: HOSTILE, label: `it's "fine" $(reboot)` })
    await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x77 1M 1M', disk])
    await fx.call('snapshots.revert', { host: 'kvm-hostile', vm: HOSTILE, snapshot: snap.name, confirm: true })
    expect((await rawBytes(disk, path.join(dir, 'a.raw'))).subarray(MiB, 3 * MiB).equals(Buffer.alloc(2 * MiB, 0x5a))).toBe(true)
    expect((await fx.call('snapshots.list', { host: 'kvm-hostile', vm: HOSTILE })).map((s) => s.label)).toEqual([`it's "fine" $(reboot)`])
    await fx.call('snapshots.remove', { host: 'kvm-hostile', vm: HOSTILE, snapshot: snap.name })

    const { jobId } = await fx.call('backup.start', { host: 'kvm-hostile', vm: HOSTILE, mode: 'cold' })
    const job = await fx.job(jobId)
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded')
    const point = job.result as { id: string; vm: { name: string } }
    expect(point.vm.name).toBe(HOSTILE)

    const restored = await fx.job((await fx.call('restore.start', { point: point.id, toHost: 'kvm-hostile', as: HOSTILE_COPY, storageDir: dir })).jobId)
    expect(restored.state, JSON.stringify(restored.error)).toBe('succeeded')
    const result = restored.result as { disks: { path: string }[] }
    const copy = result.disks[0]?.path ?? ''
    await run('qemu-img', ['compare', '-U', disk, copy])
    expect((await virsh(['domblklist', HOSTILE_COPY])).includes(copy)).toBe(true)
    for (const p of ['/lb-pwned', '/root/lb-pwned', '/tmp/lb-pwned']) await expect(readFile(p)).rejects.toThrow()
  }, 180_000)

  it('the CLI contract: backup --json prints the restore point, restore and snapshot commands work', async () => {
    const backup = await runCli(fx.home, ['backup', '--host', 'kvm-hostile', '--vm', HOSTILE, '--mode', 'cold', '--json'])
    expect(backup.code, backup.stderr).toBe(0)
    const point = JSON.parse(backup.stdout) as { id: string; consistency: string; vm: { name: string } }
    expect(point).toMatchObject({ consistency: 'offline', vm: { name: HOSTILE } })
    const usage = await runCli(fx.home, ['backup', '--host', 'kvm-hostile', '--vm', HOSTILE, '--mode', 'lukewarm'])
    expect(usage.code).toBe(2)
    const restored = await runCli(fx.home, ['restore', point.id, '--to-host', 'kvm-hostile', '--as', `${HOSTILE} cli`, '--storage', dir, '--json'])
    expect(restored.code, restored.stderr).toBe(0)
    expect(JSON.parse(restored.stdout)).toMatchObject({ name: `${HOSTILE} cli`, started: false })
    await virsh(['undefine', `${HOSTILE} cli`])
    const created = await runCli(fx.home, ['snapshot', 'create', '--host', 'kvm-hostile', '--vm', HOSTILE, '--label', 'cli test', '--json'])
    expect(created.code, created.stderr).toBe(0)
    const name = (JSON.parse(created.stdout) as { name: string }).name
    const listed = await runCli(fx.home, ['snapshot', 'list', '--host', 'kvm-hostile', '--vm', HOSTILE])
    expect(listed.stdout).toContain(name)
    const unconfirmed = await runCli(fx.home, ['snapshot', 'revert', name, '--host', 'kvm-hostile', '--vm', HOSTILE])
    expect(unconfirmed.code).toBe(1)
    expect((await runCli(fx.home, ['snapshot', 'revert', name, '--host', 'kvm-hostile', '--vm', HOSTILE, '--yes'])).code).toBe(0)
    expect((await runCli(fx.home, ['snapshot', 'remove', name, '--host', 'kvm-hostile', '--vm', HOSTILE])).code).toBe(0)
    const leftovers = await runCli(fx.home, ['leftovers', 'list', '--host', 'kvm-hostile', '--json'])
    expect(JSON.parse(leftovers.stdout)).toEqual([])
  }, 300_000)
})
