import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LinuxAdapter } from '../../adapters/linux/linux-adapter'
import { exportDir, imageSpec, snapshotParam } from '../../adapters/linux/snapshot-nbd'
import { makeExt4DataDisk, makeTestDir } from '../../test-hosts/data-disk'
import { canRunLibvirt, ensureLibvirt, virsh, type LibvirtHandle } from '../../test-hosts/libvirt'
import { run, sleep } from '../../test-hosts/run'
import { canRunSshHosts, startSshHost, type SshTestHost } from '../../test-hosts/ssh-host'
import { createTestDomain, type TestDomain } from '../../test-hosts/test-domain'
import { runCli } from '../../e2e/support/cli'
import type { DiskSourceRef } from '../api/contract-files'
import { addRootHost, engineFixture, type EngineFixture } from '../jobs/testing/linux-fixture'

const MiB = 1024 * 1024

/** qemu-nbd processes serving a Lifeboat browsing folder, and those folders: what must be gone after browsing. */
async function hostArtifacts(): Promise<{ servers: string[]; dirs: string[] }> {
  const { stdout } = await run('ps', ['-eo', 'pid=,args='])
  const servers = stdout.split('\n').filter((l) => /qemu-nbd .*--socket=\/var\/tmp\/lifeboat-[0-9a-f-]{36}\.nbd\//.test(l)).map((l) => l.trim())
  const dirs = (await readdir('/var/tmp')).filter((n) => /^lifeboat-[0-9a-f-]{36}\.nbd$/.test(n))
  return { servers, dirs }
}

async function waitClean(timeoutMs = 15_000): Promise<{ servers: string[]; dirs: string[] }> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const a = await hostArtifacts()
    if ((a.servers.length === 0 && a.dirs.length === 0) || Date.now() > deadline) return a
    await sleep(100)
  }
}

// One booted tiny guest for the whole file (TCG boots cost seconds). vda: ext4 "lbdata" (qcow2), mounted at /data by
// the guest; vdb: ext4 "second" (qcow2), not mounted. Tests run in order: internal snapshots of the running VM, a
// session cut off and one crashed, an external snapshot, then the same internal snapshot with the VM shut off.
describe.skipIf(!canRunLibvirt().ok || !canRunSshHosts().ok)('Browsing libvirt snapshots in place on the host', () => {
  let libvirt: LibvirtHandle
  let host: SshTestHost
  let domain: TestDomain
  let fx: EngineFixture
  let dir: string
  let snap = ''
  const source = (snapshot: string, disks?: string[]): DiskSourceRef => ({ kind: 'snapshot', host: 'kvm1', vm: domain.name, snapshot, ...(disks ? { disks } : {}) })
  const catFile = async (src: DiskSourceRef, volume: string, file: string): Promise<string> => {
    const parts: Buffer[] = []
    for await (const chunk of fx.engine.browse.readFile(src, volume, file, AbortSignal.timeout(120_000))) parts.push(chunk)
    return Buffer.concat(parts).toString('utf8')
  }
  const names = async (src: DiskSourceRef, volume: string, dirPath = '/') => (await fx.call('files.list', { source: src, volume, path: dirPath, offset: 0, limit: 100 })).entries.map((e) => e.name)
  const guest = async (script: string) => {
    const r = await domain.exec(['/bin/sh', '-c', script])
    expect(r.exitCode, r.stderr).toBe(0)
    return r.stdout
  }

  beforeAll(async () => {
    libvirt = await ensureLibvirt()
    dir = await makeTestDir('lb-snapshot-browse-')
    await mkdir(path.join(dir, 'a', 'docs'), { recursive: true })
    await writeFile(path.join(dir, 'a', 'hello.txt'), 'hello from the data disk\n')
    await writeFile(path.join(dir, 'a', 'docs', 'report.txt'), 'quarterly numbers\n'.repeat(2000))
    await mkdir(path.join(dir, 'b'))
    await writeFile(path.join(dir, 'b', 'other.txt'), 'on the second disk\n')
    const vda = await makeExt4DataDisk({ fromDir: path.join(dir, 'a'), path: path.join(dir, 'vda.qcow2'), sizeBytes: 64 * MiB })
    const vdb = await makeExt4DataDisk({ fromDir: path.join(dir, 'b'), path: path.join(dir, 'vdb.qcow2'), sizeBytes: 32 * MiB, label: 'second' })
    domain = await createTestDomain({ disks: [{ path: vda, format: 'qcow2' }, { path: vdb, format: 'qcow2' }] })
    host = await startSshHost({ hostname: 'lb-snapbrowse' })
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

  it('running VM, internal snapshot: the files as they were, not the ones written since; nothing stays on the host', async () => {
    snap = (await fx.call('snapshots.create', { host: 'kvm1', vm: domain.name, label: 'before patching' })).id
    await guest('echo patched > /data/hello.txt && echo new > /data/new.txt && sync')
    expect(await guest('cat /data/hello.txt')).toBe('patched\n')

    const started = Date.now()
    const tree = await fx.call('files.probe', { source: source(snap) })
    expect(tree.disks).toHaveLength(2)
    expect(tree.volumes.map((v) => v.filesystem?.label)).toEqual(['lbdata', 'second'])
    expect(await names(source(snap), 'lbdata')).toEqual(['docs', 'lost+found', 'hello.txt'])
    expect(await catFile(source(snap), 'lbdata', '/hello.txt')).toBe('hello from the data disk\n')
    expect(await catFile(source(snap), 'lbdata', '/docs/report.txt')).toBe('quarterly numbers\n'.repeat(2000))
    expect(await catFile(source(snap), 'd2:second', '/other.txt')).toBe('on the second disk\n')
    expect(Date.now() - started).toBeLessThan(60_000)

    // While it is open: one folder, one qemu-nbd per disk; reconcile sees a live session and leaves it alone.
    const open = await hostArtifacts()
    expect(open.dirs).toHaveLength(1)
    expect(open.servers).toHaveLength(2)
    const leftovers = await fx.call('leftovers.list', { host: 'kvm1' })
    expect(leftovers.filter((l) => l.id === `file:/var/tmp/${open.dirs[0] ?? ''}`)).toEqual([expect.objectContaining({ safeToClean: false })])

    // One disk only: the other is closed at once.
    expect(await names(source(snap, ['vdb']), 'second')).toEqual(['lost+found', 'other.txt'])

    await fx.engine.browse.close()
    expect(await waitClean()).toEqual({ servers: [], dirs: [] })
    expect(existsSync(`/var/tmp/${(open.dirs[0] ?? '').replace(/\.nbd$/, '.lock')}`)).toBe(false)
    expect(await domain.state()).toBe('running')
    expect(await guest('cat /data/hello.txt /data/new.txt')).toBe('patched\nnew\n')
    expect((await virsh(['snapshot-list', domain.name, '--name'])).trim()).toBe(snap)
  }, 180_000)

  it('the CLI names a live snapshot as snapshot:HOST/VM/SNAPSHOT', async () => {
    await fx.engine.browse.close()
    const spec = `snapshot:kvm1/${encodeURIComponent(domain.name)}/${encodeURIComponent(snap)}`
    const cat = await runCli(fx.home, ['files', 'cat', `${spec}#lbdata`, '/hello.txt'])
    expect(cat.stderr).toBe('')
    expect(cat.stdout).toBe('hello from the data disk\n')
    const ls = await runCli(fx.home, ['files', 'ls', `${spec}#vdb#second`, '/', '--json'])
    expect((JSON.parse(ls.stdout) as { name: string }[]).map((e) => e.name)).toEqual(['lost+found', 'other.txt'])
    expect(await waitClean()).toEqual({ servers: [], dirs: [] })
  }, 180_000)

  it('a snapshot name full of shell and QEMU syntax is only a name', async () => {
    // No double quote: libvirt's own savevm call loses such a snapshot (it says "created", the image has none).
    const evil = "1,snapshot.id=1 x'; touch lb-pwned-1; echo $(touch lb-pwned-2) `touch lb-pwned-3` a'b"
    await virsh(['snapshot-create-as', domain.name, '--name', evil, '--atomic'])
    expect((await run('qemu-img', ['snapshot', '-U', '-l', path.join(dir, 'vda.qcow2')])).stdout).toContain(evil)
    await guest('echo after-evil > /data/after.txt && sync')
    expect(await names(source(evil), 'lbdata')).toEqual(['docs', 'lost+found', 'hello.txt', 'new.txt'])
    await fx.engine.browse.close()
    for (const where of ['/root', '/', process.cwd(), host.dir]) for (const n of [1, 2, 3]) expect(existsSync(path.join(where, `lb-pwned-${n}`))).toBe(false)
    await virsh(['snapshot-delete', domain.name, '--snapshotname', evil])
    await expect(fx.call('files.probe', { source: source('no such snapshot') })).rejects.toMatchObject({ code: 'NOT_FOUND' })
    expect(await waitClean()).toEqual({ servers: [], dirs: [] })
  }, 180_000)

  it('a session whose connection drops cleans up after itself on the host', async () => {
    const adapter = new LinuxAdapter({ endpoint: { kind: 'linux', address: host.address, port: 22, user: 'root' }, secret: { type: 'key', privateKey: host.clientPrivateKey }, pinnedFingerprint: host.fingerprint })
    await adapter.connect(AbortSignal.timeout(30_000))
    const vmId = (await virsh(['domuuid', domain.name])).trim()
    const disks = await adapter.snapshots.openDisks?.(vmId, snap, AbortSignal.timeout(60_000))
    expect(disks?.map((d) => [d.name, d.readout.kind, d.sizeBytes])).toEqual([['vda', 'guest', 64 * MiB], ['vdb', 'guest', 32 * MiB]])
    expect((await hostArtifacts()).servers).toHaveLength(2)
    await adapter.close() // Lifeboat goes away without closing its readouts
    expect(await waitClean()).toEqual({ servers: [], dirs: [] })
  }, 120_000)

  it('a crashed session (servers running, nobody holding its lock) is found by reconcile and stopped', async () => {
    // What a Lifeboat killed between starting the servers and connecting leaves: a folder, a pid file, a live qemu-nbd.
    const session = randomUUID()
    const d = exportDir(session)
    await mkdir(d, { mode: 0o700 })
    await writeFile(`/var/tmp/lifeboat-${session}.lock`, '')
    await run('qemu-nbd', ['--fork', `--pid-file=${d}/0.pid`, `--socket=${d}/0.sock`, '--read-only', '--shared=1', '-l', snapshotParam(snap), imageSpec({ path: path.join(dir, 'vda.qcow2'), device: 'file' })])
    expect((await hostArtifacts()).servers).toHaveLength(1)
    const found = (await fx.call('leftovers.list', { host: 'kvm1' })).filter((l) => l.jobId === session)
    expect(found.map((l) => [l.id, l.safeToClean])).toEqual(expect.arrayContaining([[`file:${d}`, true], [`file:/var/tmp/lifeboat-${session}.lock`, true]]))
    const cleaned = await fx.call('leftovers.clean', { host: 'kvm1', ids: found.map((l) => l.id) })
    expect(cleaned.failed).toEqual([])
    expect(await hostArtifacts()).toEqual({ servers: [], dirs: [] })
    expect(existsSync(`/var/tmp/lifeboat-${session}.lock`)).toBe(false)
  }, 120_000)

  it('external (disk-only) snapshot: the image under the overlay, read in place; gone once merged back', async () => {
    const overlay = path.join(dir, 'vda.ext1')
    await virsh(['snapshot-create-as', domain.name, '--name', 'ext1', '--disk-only', '--atomic', '--diskspec', `vda,file=${overlay}`, '--diskspec', 'vdb,snapshot=no'])
    await guest('echo after-ext > /data/ext.txt && sync')
    const tree = await fx.call('files.probe', { source: source('ext1') })
    expect(tree.disks).toHaveLength(1) // vdb was left out of this snapshot
    expect(await names(source('ext1'), 'lbdata')).toEqual(['docs', 'lost+found', 'after.txt', 'hello.txt', 'new.txt'])
    expect(await catFile(source('ext1'), 'lbdata', '/hello.txt')).toBe('patched\n')
    await fx.engine.browse.close()
    expect(await waitClean()).toEqual({ servers: [], dirs: [] })
    // The internal snapshot taken before lives inside the image that is now the overlay's backing file.
    expect(await catFile(source(snap), 'lbdata', '/hello.txt')).toBe('hello from the data disk\n')
    await fx.engine.browse.close()

    await virsh(['blockcommit', domain.name, 'vda', '--active', '--pivot', '--wait'])
    await expect(fx.call('files.probe', { source: source('ext1') })).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('no longer exists') as unknown })
    await virsh(['snapshot-delete', domain.name, 'ext1', '--metadata'])
    await rm(overlay, { force: true })
    expect(await waitClean()).toEqual({ servers: [], dirs: [] })
  }, 180_000)

  it('shut-off VM: the internal snapshot reads the same', async () => {
    await domain.shutdown({ mode: 'agent', timeoutMs: 60_000 })
    expect(await names(source(snap), 'lbdata')).toEqual(['docs', 'lost+found', 'hello.txt'])
    expect(await catFile(source(snap), 'lbdata', '/hello.txt')).toBe('hello from the data disk\n')
    await fx.engine.browse.close()
    expect(await waitClean()).toEqual({ servers: [], dirs: [] })
    expect(await domain.state()).toBe('shut off')
  }, 180_000)
})
