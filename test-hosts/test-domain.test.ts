import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { convertToRaw, makeBlankDisk, makeExt4DataDisk, makeTestDir } from './data-disk'
import { canRunLibvirt, ensureLibvirt, virsh, type LibvirtHandle } from './libvirt'
import { run, sleep } from './run'
import { createTestDomain, type TestDomain } from './test-domain'
import { ensureTinyGuest } from './tiny-guest/tiny-guest'

const MiB = 1024 * 1024

// One booted tiny guest shared by the tests below, in order: TCG boots cost seconds.
// vda: ext4 data disk (qcow2) mounted at /data in the guest. vdb: blank qcow2 the guest never touches (monitor writes,
// backups). vdc: a raw disk, to show raw files work the same way.
describe.skipIf(!canRunLibvirt().ok)('libvirt test domain with the tiny guest', () => {
  let libvirt: LibvirtHandle
  let domain: TestDomain
  let dir: string
  let vda: string
  let vdb: string
  let vdc: string
  const timings: Record<string, number> = {}

  const jobDone = async (timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs
    while (/Job type:\s+(Unbounded|Bounded)/.test(await virsh(['domjobinfo', domain.name]))) {
      if (Date.now() > deadline) throw new Error(`backup job on ${domain.name} still running after ${timeoutMs} ms`)
      await sleep(100)
    }
    return virsh(['domjobinfo', domain.name, '--completed'])
  }
  const blockList = async (inactive = false) => (await virsh(['domblklist', domain.name, ...(inactive ? ['--inactive'] : [])])).replace(/[ \t]+/g, ' ')

  beforeAll(async () => {
    libvirt = await ensureLibvirt()
    const guest = await ensureTinyGuest()
    dir = await makeTestDir('lb-domain-test-')
    await mkdir(path.join(dir, 'files'))
    await writeFile(path.join(dir, 'files', 'hello.txt'), 'hello from the data disk\n')
    vda = await makeExt4DataDisk({ fromDir: path.join(dir, 'files'), path: path.join(dir, 'vda.qcow2'), sizeBytes: 64 * MiB })
    vdb = await makeBlankDisk({ path: path.join(dir, 'vdb.qcow2'), sizeBytes: 64 * MiB })
    vdc = await makeBlankDisk({ path: path.join(dir, 'vdc.raw'), sizeBytes: 16 * MiB, format: 'raw' })
    domain = await createTestDomain({
      guest,
      disks: [
        { path: vda, format: 'qcow2' },
        { path: vdb, format: 'qcow2' },
        { path: vdc, format: 'raw' },
      ],
    })
    const started = Date.now()
    await domain.start()
    await domain.waitForAgent(120_000)
    timings.firstBootToAgentMs = Date.now() - started
  }, 240_000)

  afterAll(async () => {
    console.log(`tiny guest timings (TCG): ${JSON.stringify(timings)}`)
    await domain.remove()
    await rm(dir, { recursive: true, force: true })
    await libvirt.stop()
  })

  it('boots to a responsive guest agent with the data disk mounted read-write at /data', async () => {
    expect(await domain.agent('guest-ping')).toEqual({})
    const mounts = await domain.exec(['/bin/sh', '-c', 'grep " /data " /proc/mounts; cat /data/hello.txt'])
    expect(mounts.exitCode).toBe(0)
    expect(mounts.stdout).toMatch(/^\/dev\/vda \/data ext4 rw/)
    expect(mounts.stdout).toContain('hello from the data disk')
  })

  it('freezes and thaws the guest filesystem through the agent', async () => {
    expect(await domain.agent('guest-fsfreeze-freeze')).toBe(1)
    expect(await domain.agent('guest-fsfreeze-status')).toBe('frozen')
    expect(await domain.agent('guest-fsfreeze-thaw')).toBe(1)
    expect(await domain.agent('guest-fsfreeze-status')).toBe('thawed')
  })

  it('writes known bytes into a running disk through the QEMU monitor, and nothing else', async () => {
    expect(await domain.diskQdevPath('vdb')).toBe('/machine/peripheral/virtio-disk1/virtio-backend')
    const before = await readFile(await convertToRaw(vdb, path.join(dir, 'vdb-before.raw')))
    await domain.writeDiskPattern('vdb', { offset: 8 * MiB, length: 3 * MiB, pattern: 0xcd })
    await copyFile(vdb, path.join(dir, 'vdb-copy.qcow2'))
    const after = await readFile(await convertToRaw(path.join(dir, 'vdb-copy.qcow2'), path.join(dir, 'vdb-after.raw')))
    const expected = Buffer.from(before)
    expected.fill(0xcd, 8 * MiB, 11 * MiB)
    expect(after.length).toBe(64 * MiB)
    expect(after.equals(expected)).toBe(true)

    expect(await domain.diskQdevPath('vdc')).toBe('/machine/peripheral/virtio-disk2/virtio-backend')
    await domain.writeDiskPattern('vdc', { offset: MiB, length: 4096, pattern: 0x7e })
    const rawAfter = await readFile(vdc)
    expect(rawAfter.subarray(MiB, MiB + 4096).equals(Buffer.alloc(4096, 0x7e))).toBe(true)
    expect(rawAfter.subarray(0, MiB).equals(Buffer.alloc(MiB))).toBe(true)
    expect(rawAfter.subarray(MiB + 4096).equals(Buffer.alloc(15 * MiB - 4096))).toBe(true)
  })

  it('takes a quiesced, atomic, disk-only snapshot and commits it back with blockcommit --active --pivot', async () => {
    const overlay = path.join(dir, 'vda-overlay.qcow2')
    await virsh([
      'snapshot-create-as', domain.name, '--disk-only', '--atomic', '--quiesce', '--no-metadata',
      '--diskspec', `vda,snapshot=external,file=${overlay}`, '--diskspec', 'vdb,snapshot=no', '--diskspec', 'vdc,snapshot=no',
    ])
    expect(await blockList()).toContain(`vda ${overlay}`)
    expect(await domain.agent('guest-fsfreeze-status')).toBe('thawed')
    // Guest writes now land in the overlay…
    const write = await domain.exec(['/bin/sh', '-c', 'echo written-during-snapshot > /data/during.txt && sync'])
    expect(write.exitCode).toBe(0)
    const started = Date.now()
    await virsh(['blockcommit', domain.name, 'vda', '--active', '--pivot', '--wait'])
    timings.blockcommitMs = Date.now() - started
    // …and after the pivot the domain runs on the base image again, live and in its persistent definition.
    expect(await blockList()).toContain(`vda ${vda}`)
    expect(await blockList(true)).toContain(`vda ${vda}`)
    const info = await run('qemu-img', ['info', '-U', '--output=json', vda])
    expect(JSON.parse(info.stdout)).not.toHaveProperty('backing-filename')
    await rm(overlay)
  })

  it('backs up with a checkpoint, then incrementally: the incremental holds exactly a later 3 MiB write', async () => {
    const full = path.join(dir, 'vdb-full.qcow2')
    const incremental = path.join(dir, 'vdb-inc.qcow2')
    const backupXml = (target: string, since?: string) =>
      `<domainbackup mode='push'>${since === undefined ? '' : `<incremental>${since}</incremental>`}<disks>` +
      `<disk name='vda' backup='no'/><disk name='vdc' backup='no'/><disk name='vdb' type='file'><target file='${target}'/><driver type='qcow2'/></disk></disks></domainbackup>`
    const checkpointXml = (name: string) =>
      `<domaincheckpoint><name>${name}</name><disks><disk name='vda' checkpoint='no'/><disk name='vdb' checkpoint='bitmap'/><disk name='vdc' checkpoint='no'/></disks></domaincheckpoint>`
    await writeFile(path.join(dir, 'full.xml'), backupXml(full))
    await writeFile(path.join(dir, 'cp1.xml'), checkpointXml('lbtest-cp1'))
    await writeFile(path.join(dir, 'inc.xml'), backupXml(incremental, 'lbtest-cp1'))
    await writeFile(path.join(dir, 'cp2.xml'), checkpointXml('lbtest-cp2'))

    await virsh(['backup-begin', domain.name, path.join(dir, 'full.xml'), path.join(dir, 'cp1.xml')])
    expect(await jobDone(60_000)).toMatch(/Job type:\s+Completed/)
    // Nothing wrote to vdb since: the full backup equals the live disk.
    await run('qemu-img', ['compare', '-U', full, vdb])

    await domain.writeDiskPattern('vdb', { offset: 20 * MiB, length: 3 * MiB, pattern: 0xab })
    await virsh(['backup-begin', domain.name, path.join(dir, 'inc.xml'), path.join(dir, 'cp2.xml')])
    expect(await jobDone(60_000)).toMatch(/Job type:\s+Completed/)

    // The incremental's own clusters (depth 0; it has the live disk as backing file) are exactly the write…
    const map = JSON.parse((await run('qemu-img', ['map', '-U', '--output=json', incremental])).stdout) as { start: number; length: number; depth: number; data: boolean }[]
    const own: [number, number][] = []
    for (const e of map.filter((m) => m.depth === 0 && m.data)) {
      const prev = own.at(-1)
      if (prev !== undefined && prev[0] + prev[1] === e.start) prev[1] += e.length
      else own.push([e.start, e.length])
    }
    expect(own).toEqual([[20 * MiB, 3 * MiB]])
    // …and hold the written bytes.
    const check = await run('qemu-io', ['-U', '-r', '-f', 'qcow2', '-c', `read -P 0xab ${20 * MiB} ${3 * MiB}`, incremental])
    expect(check.stdout).toContain(`read ${3 * MiB}/${3 * MiB} bytes at offset ${20 * MiB}`)
    expect(check.stdout).not.toContain('Pattern verification failed')
    expect(await virsh(['checkpoint-list', domain.name, '--name'])).toMatch(/lbtest-cp1\nlbtest-cp2/)
  })

  it('powers off cleanly on the ACPI power button', async () => {
    timings.acpiShutdownMs = await domain.shutdown({ mode: 'acpi', timeoutMs: 30_000 })
    expect(timings.acpiShutdownMs).toBeLessThan(30_000)
    const console = await domain.consoleLog()
    expect(console).toContain('tiny-guest: ACPI power button pressed')
    expect(console).toContain('tiny-guest: /data unmounted')
    // The filesystem was unmounted cleanly, and what the guest wrote during the snapshot was committed to the base.
    const raw = await convertToRaw(vda, path.join(dir, 'vda.raw'))
    await run('e2fsck', ['-fn', raw])
    expect((await run('debugfs', ['-R', 'cat /during.txt', raw])).stdout).toBe('written-during-snapshot\n')
  })

  it('boots again and powers off through the agent (guest-shutdown → /sbin/shutdown shim)', async () => {
    const started = Date.now()
    await domain.start()
    await domain.waitForAgent(120_000)
    timings.secondBootToAgentMs = Date.now() - started
    timings.agentShutdownMs = await domain.shutdown({ mode: 'agent', timeoutMs: 30_000 })
    expect(await domain.consoleLog()).toContain('tiny-guest: shutdown -h -P +0 hypervisor initiated shutdown -> poweroff')
  }, 180_000)
})
