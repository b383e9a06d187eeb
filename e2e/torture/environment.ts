/**
 * Everything a campaign runs against, started once and stopped in dispose(): a Lifeboat home and CLI bundle of its
 * own, an S3 server behind the fault proxy, and (as root) an SSH test host in its own network namespace with a
 * loop-mounted btrfs holding a registered VM's disk and a small tmpfs for a full SFTP repository.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { run } from '../../test-hosts/run'
import { canRunSshHosts, startSshHost, type SshTestHost } from '../../test-hosts/ssh-host'
import { startS3, type TestS3 } from '../../engine/repository/testing/s3-server'
import { describeRun, lifeboatRunner, type LifeboatRunner } from './lifeboat-process'
import type { Prng } from './prng'
import type { RepoTarget } from './repo-target'
import type { FaultRow } from './report'
import { startS3FaultProxy, type S3FaultProxy } from './s3-fault-proxy'

export const HOST_NAME = 'torture-host'
export const VM_NAME = 'vm1'
const MiB = 1024 * 1024

export interface SshSide {
  readonly host: SshTestHost
  /** The registered VM's disk, a file in a btrfs subvolume (hot backups snapshot it there). */
  readonly vmDisk: string
  readonly btrfsMount: string
  /** A 64 MiB tmpfs the SSH host sees (mounted before its sshd started): the full SFTP repository. */
  readonly smallFs: string
}

export interface TortureEnvironment extends AsyncDisposable {
  readonly dir: string
  readonly runner: LifeboatRunner
  readonly s3: { readonly server: TestS3; readonly proxy: S3FaultProxy } | undefined
  readonly ssh: SshSide | undefined
  /** Why the SSH side is missing (not root, no btrfs, …). */
  readonly sshMissing: string | undefined
  /** Mounts a fresh tmpfs of `sizeMiB` (root only); removed in dispose(). */
  mountTmpfs(name: string, sizeMiB: number): Promise<string>
}

/** What every fault campaign is given: where it runs, the repository it attacks, its dice, how many runs, its report row. */
export interface FaultRunOptions {
  readonly env: TortureEnvironment
  readonly target: RepoTarget
  readonly prng: Prng
  readonly runs: number
  readonly row: FaultRow
  /** Where run N stands in the whole campaign, for log lines that can be replayed. */
  readonly where: (run: number) => string
  readonly log: (line: string) => void
}

export async function writeRandomFile(file: string, bytes: number): Promise<void> {
  const handle = await open(file, 'w')
  try {
    for (let done = 0; done < bytes; done += 4 * MiB) await handle.write(randomBytes(Math.min(4 * MiB, bytes - done)))
  } finally {
    await handle.close()
  }
}

export async function startEnvironment(options: { readonly wantS3: boolean; readonly wantSsh: boolean; readonly vmDiskMiB: number; readonly prng: Prng; readonly log: (line: string) => void; readonly deadlineAt?: number }): Promise<TortureEnvironment> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lb-torture-'))
  const undo: (() => PromiseLike<unknown>)[] = [() => rm(dir, { recursive: true, force: true })]
  const dispose = async (): Promise<void> => {
    for (const u of undo.reverse()) {
      try {
        await u()
      } catch (err) {
        options.log(`cleanup: ${err instanceof Error ? err.message : String(err)}`)
      }
    }
  }
  try {
    const runner = await lifeboatRunner(path.join(dir, 'home'), { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', LIFEBOAT_WORKER_NICE: '0' }, options.deadlineAt)
    undo.push(() => runner[Symbol.asyncDispose]())
    const mounts: string[] = []
    undo.push(async () => {
      for (const m of mounts.reverse()) await run('umount', ['-l', m]).catch(() => undefined)
    })
    const mountTmpfs = async (name: string, sizeMiB: number): Promise<string> => {
      const mnt = path.join(dir, name)
      await mkdir(mnt, { recursive: true })
      await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', mnt])
      mounts.push(mnt)
      return mnt
    }

    let s3: TortureEnvironment['s3']
    if (options.wantS3) {
      await mkdir(path.join(dir, 's3'))
      const server = await startS3(path.join(dir, 's3'))
      undo.push(() => server[Symbol.asyncDispose]())
      const url = new URL(server.endpoint)
      const proxy = await startS3FaultProxy({ host: url.hostname, port: Number(url.port) }, options.prng)
      undo.push(() => proxy[Symbol.asyncDispose]())
      s3 = { server, proxy }
    }

    let ssh: SshSide | undefined
    let sshMissing: string | undefined = options.wantSsh ? canRunSshHosts().reason : 'not asked for'
    if (options.wantSsh && sshMissing === undefined) {
      try {
        ssh = await startSshSide(dir, mounts, options.vmDiskMiB, runner, undo)
      } catch (err) {
        sshMissing = `the SSH test host did not start: ${err instanceof Error ? err.message : String(err)}`
      }
    }
    return { dir, runner, s3, ssh, sshMissing, mountTmpfs, [Symbol.asyncDispose]: dispose }
  } catch (err) {
    await dispose()
    throw err
  }
}

async function startSshSide(dir: string, mounts: string[], vmDiskMiB: number, runner: LifeboatRunner, undo: (() => PromiseLike<unknown>)[]): Promise<SshSide> {
  // Both filesystems are mounted before sshd starts: its private mount namespace does not see later mounts.
  const btrfsMount = path.join(dir, 'btrfs')
  await mkdir(btrfsMount)
  await run('truncate', ['-s', `${Math.max(512, vmDiskMiB * 3)}M`, path.join(dir, 'btrfs.img')])
  await run('mkfs.btrfs', ['-q', path.join(dir, 'btrfs.img')])
  await run('mount', ['-o', 'loop', path.join(dir, 'btrfs.img'), btrfsMount])
  mounts.push(btrfsMount)
  await run('btrfs', ['subvolume', 'create', path.join(btrfsMount, 'vms')])
  const vmDisk = path.join(btrfsMount, 'vms', `${VM_NAME}.img`)
  await writeRandomFile(vmDisk, vmDiskMiB * MiB)
  const smallFs = path.join(dir, 'small-fs')
  await mkdir(smallFs)
  await run('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', smallFs])
  mounts.push(smallFs)

  const host = await startSshHost({ hostname: 'lb-torture', extraConfig: [`SetEnv LIFEBOAT_VMS_FILE=${path.join(dir, 'vms.json')}`] })
  undo.push(() => host.stop())
  const added = await runner.run(['host', 'add', '--kind', 'linux', '--name', HOST_NAME, '--address', host.address, '--user', 'root', '--key', host.clientKeyPath, '--accept-fingerprint', host.fingerprint], { timeoutMs: 60_000 })
  if (added.code !== 0) throw new Error(describeRun(added))
  const registered = await runner.run(['vm', 'register', '--host', HOST_NAME, '--name', VM_NAME, '--disk', `vda=${vmDisk}`], { timeoutMs: 60_000 })
  if (registered.code !== 0) throw new Error(describeRun(registered))
  return { host, vmDisk, btrfsMount, smallFs }
}
