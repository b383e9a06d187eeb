import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, readdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BlockSource, RestoreRequest } from '../host-adapter'
import type { ExecOptions, ExecResult } from '../ssh/ssh-connection'
import { RootShell } from '../ssh/root-shell'
import type { ShellFragment } from '../ssh/shell-quote'
import { SshConnection } from '../ssh/ssh-connection'
import { makeBlankDisk, makeTestDir } from '../../test-hosts/data-disk'
import { canRunLibvirt, ensureLibvirt, virsh, type LibvirtHandle } from '../../test-hosts/libvirt'
import { run } from '../../test-hosts/run'
import { canRunSshHosts, startSshHost, type SshTestHost } from '../../test-hosts/ssh-host'
import { createTestDomain, type TestDomain } from '../../test-hosts/test-domain'
import { restoreLibvirtVm } from './libvirt-restore'
import { cleanLeftovers, findLeftovers } from './reconcile'
import { journalPath } from './restore-journal'

const MiB = 1024 * 1024
const sha = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex')

/**
 * Lifeboat killed in the middle of an in-place restore: the flow stops dead at one host command (no undo runs, as
 * after kill -9) and its SSH connection goes, which ends its job lock. The next connect's leftovers check must find
 * what the restore left by its journal and finish it exactly — every original back before the restore committed,
 * the replaced originals deleted after.
 */
describe.skipIf(!canRunLibvirt().ok || !canRunSshHosts().ok)('an in-place restore killed half-way is settled by the leftovers check', () => {
  let libvirt: LibvirtHandle
  let host: SshTestHost
  let domain: TestDomain
  let dir = ''
  let disk = ''
  let xmlBefore = ''
  let original = ''
  const data = Buffer.concat([randomBytes(MiB), Buffer.alloc(7 * MiB)])
  const source: BlockSource = { size: data.length, label: 'vda', read: (o, l) => Promise.resolve(Buffer.from(data.subarray(o, o + l))), close: () => Promise.resolve() }

  const connect = () => SshConnection.connect({ host: host.address, port: 22, username: 'root', secret: { type: 'key', privateKey: host.clientPrivateKey }, pinnedFingerprint: host.fingerprint }, AbortSignal.timeout(30_000))

  /** Starts the restore over its own connection; when a command matches `killAt`, that command never returns and the connection is closed. */
  async function killedRestore(job: string, killAt: RegExp): Promise<string> {
    const conn = await connect()
    let killed: (text: string) => void = () => undefined
    const reached = new Promise<string>((resolve) => (killed = resolve))
    const dying = new Proxy(conn, {
      get(target, prop) {
        if (prop === 'exec') {
          return (command: ShellFragment, options?: ExecOptions): Promise<ExecResult> => {
            if (killAt.test(command.text)) {
              killed(command.text)
              return new Promise<ExecResult>(() => undefined)
            }
            return target.exec(command, options)
          }
        }
        const value: unknown = Reflect.get(target, prop, target)
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
      },
    })
    RootShell.remember(dying, '0')
    const shell = await RootShell.for(dying)
    const request: RestoreRequest = { vmConfig: { kind: 'libvirt', name: domain.name, uuid: 'x', xml: xmlBefore }, disks: [{ name: 'vda', size: data.length, source }], name: domain.name, inPlace: true, jobId: job, start: false, log: () => undefined, phase: () => undefined, progress: () => undefined }
    // A restore that ends (or fails) before the kill point is a failed test, not a wait for a kill that never comes.
    const ended = restoreLibvirtVm(() => Promise.resolve(shell), request, AbortSignal.timeout(300_000)).then(
      () => new Error('the restore finished before the kill point'),
      (err: unknown) => new Error(`the restore failed before the kill point: ${err instanceof Error ? err.message : String(err)}`),
    )
    try {
      const at = await Promise.race([reached, ended])
      if (at instanceof Error) throw at
      return at
    } finally {
      await conn.close()
    }
  }

  async function settle(job: string, expected: RegExp) {
    const conn = await connect()
    try {
      const shell = await RootShell.for(conn)
      const leftovers = (await findLeftovers(shell, AbortSignal.timeout(120_000))).filter((l) => l.jobId === job)
      // One entry for the restore; the files it set aside are the journal's to settle, never offered for deletion.
      expect(leftovers.map((l) => [l.id, l.safeToClean])).toEqual([[`restore:${job}`, true]])
      expect(leftovers[0]?.description).toMatch(expected)
      const result = await cleanLeftovers(shell, [`restore:${job}`], AbortSignal.timeout(120_000))
      expect(result).toEqual({ cleaned: [`restore:${job}`], failed: [] })
      expect((await findLeftovers(shell, AbortSignal.timeout(120_000))).filter((l) => l.jobId === job)).toEqual([])
    } finally {
      await conn.close()
    }
    expect((await readdir(dir)).filter((f) => f.includes('.lifeboat-'))).toEqual([])
    expect(existsSync(journalPath(job))).toBe(false)
  }

  beforeAll(async () => {
    libvirt = await ensureLibvirt()
    dir = await makeTestDir('lb-inplace-kill-')
    disk = await makeBlankDisk({ path: path.join(dir, 'vda.qcow2'), sizeBytes: 8 * MiB })
    await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x5a 0 2M', disk])
    domain = await createTestDomain({ disks: [{ path: disk, format: 'qcow2' }], dataDevice: 'none', agent: false })
    host = await startSshHost({ hostname: 'lb-inplace-kill' })
    xmlBefore = await virsh(['dumpxml', '--inactive', domain.name])
    original = await sha(disk)
  }, 300_000)

  afterAll(async () => {
    await host.stop()
    await domain.remove()
    await rm(dir, { recursive: true, force: true })
    await libvirt.stop()
  })

  it('killed after the original was set aside, before the restored disk took its place: the original goes back', async () => {
    const job = randomUUID()
    const at = await killedRestore(job, /^mv -f -- \S+\.restore/)
    expect(at).toContain(`lifeboat-${job}.restore`)
    // What the kill left: the VM's disk is gone from its place, set aside beside it.
    expect(existsSync(disk)).toBe(false)
    expect(existsSync(`${disk}.lifeboat-${job}.old`)).toBe(true)
    await settle(job, /was interrupted .* puts every original disk back/)
    expect(await sha(disk)).toBe(original)
    expect(await virsh(['dumpxml', '--inactive', domain.name])).toBe(xmlBefore)
  }, 300_000)

  it('killed after the domain was defined with the restored disk: the restore stands and the replaced original goes', async () => {
    const job = randomUUID()
    await killedRestore(job, /^rm -f -- \S+\.old'?$/)
    expect(existsSync(`${disk}.lifeboat-${job}.old`)).toBe(true)
    await settle(job, /finished, but the original disks it replaced/)
    const expected = path.join(dir, 'expected.raw')
    await writeFile(expected, data)
    await run('qemu-img', ['compare', '-q', '-F', 'raw', disk, expected])
    await rm(expected)
  }, 300_000)
})
