import { execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canRunSshHosts, type SshTestHost } from '../../test-hosts/ssh-host'
import { ExecRemoteFile } from './exec-remote-file'
import { sshKeyFingerprint } from './fingerprint'
import { OpenSshStream, openSshUsable } from './openssh-stream'
import { RootShell } from './root-shell'
import { sh } from './shell-quote'
import { SshConnection } from './ssh-connection'
import { startFileHost, type FileHost } from './testing/file-host'

const run = promisify(execFile)
const MiB = 1024 * 1024

async function readAll(file: ExecRemoteFile, how: 'into' | 'moving', signal?: AbortSignal): Promise<{ data: Buffer; transport: string | undefined }> {
  const stream = file.stream(0, file.size, signal)
  const parts: Promise<Buffer>[] = []
  for (let at = 0; at < file.size; at += 4 * MiB) {
    const target = Buffer.alloc(Math.min(4 * MiB, file.size - at))
    parts.push(how === 'moving' ? stream.readMoving(target, signal) : stream.readInto(target, signal).then(() => target))
  }
  const data = Buffer.concat(await Promise.all(parts))
  return { data, transport: await stream.transportKind() }
}

/** Folders this process's OpenSSH transport made (key, known_hosts, socket) that are still there. */
async function leftovers(): Promise<string[]> {
  const out: string[] = []
  for (const base of ['/dev/shm', tmpdir()]) out.push(...(await readdir(base).catch(() => [])).filter((n) => n.startsWith(`lifeboat-ssh-${process.pid}-`)).map((n) => path.join(base, n)))
  return out
}

/** The pid of a process that has ended (for a stale folder a killed Lifeboat left). */
async function deadPid(): Promise<number> {
  const child = spawn('true')
  await new Promise((resolve) => child.once('exit', resolve))
  if (child.pid === undefined) throw new Error('no pid')
  return child.pid
}

describe.skipIf(!canRunSshHosts().ok)('bulk reads through the system OpenSSH client, pinned to the verified host key', () => {
  let fh: FileHost
  let host: SshTestHost
  let root: SshConnection
  let dir: string
  let file: string
  const data = randomBytes(13 * MiB + 12_345)
  let usable = false
  let stale = ''
  let alien = ''

  beforeAll(async () => {
    usable = await openSshUsable()
    // What a Lifeboat killed during a login leaves (swept), and a folder of a process that still runs (kept).
    stale = path.join('/dev/shm', `lifeboat-ssh-${await deadPid()}-Ab12Cd`)
    alien = path.join('/dev/shm', `lifeboat-ssh-${process.ppid}-Ef34Gh`)
    for (const d of [stale, alien]) {
      await mkdir(d, { recursive: true })
      await writeFile(path.join(d, 'known_hosts'), 'x')
    }
    fh = await startFileHost('lb-openssh', data)
    ;({ host, root, dir, file } = fh)
  })
  afterAll(async () => {
    await rm(alien, { recursive: true, force: true })
    await fh.stop()
  })

  it('reads a whole file exactly, through OpenSSH for a key login and through ssh2 otherwise', async () => {
    const shell = await RootShell.for(root)
    expect(root.keyLogin?.hostKeyType).toBe('ssh-ed25519')
    for (const how of ['into', 'moving'] as const) {
      const f = await ExecRemoteFile.open(shell, file)
      const got = await readAll(f, how)
      expect(got.data.equals(data)).toBe(true)
      expect(got.transport).toBe(usable ? 'openssh' : 'ssh2')
      await f.close()
    }
    const viaSsh2 = await ExecRemoteFile.open(shell, file, undefined, { systemSsh: false })
    const got = await readAll(viaSsh2, 'moving')
    expect(got.data.equals(data)).toBe(true)
    expect(got.transport).toBe('ssh2')
    // A password login (or a key with a passphrase, which OpenSSH would ask for) never goes to OpenSSH.
    await using user = await SshConnection.connect({ host: host.address, port: host.port, username: host.user, secret: { type: 'password', password: host.password }, pinnedFingerprint: host.fingerprint })
    expect(user.keyLogin).toBeUndefined()
    expect(await leftovers()).toEqual([])
    if (usable) {
      await expect(stat(stale)).rejects.toMatchObject({ code: 'ENOENT' })
      expect((await stat(alien)).isDirectory()).toBe(true)
    }
  })

  it('fails loudly when the file is shorter than announced, on either transport', async () => {
    const shell = await RootShell.for(root)
    const small = path.join(dir, 'shrinks.img')
    for (const systemSsh of [true, false]) {
      await writeFile(small, randomBytes(9 * MiB))
      const f = await ExecRemoteFile.open(shell, small, undefined, { systemSsh })
      await truncate(small, 5 * MiB)
      await expect(readAll(f, 'moving')).rejects.toMatchObject({ code: expect.stringMatching(/BAD_RESPONSE|COMMAND_FAILED/) as unknown })
      await f.close()
    }
    expect(await leftovers()).toEqual([])
  })

  it('leaves nothing behind once OpenSSH has exited, even when the reader never closes the stream', async ({ skip }) => {
    if (!usable) skip()
    const login = root.keyLogin
    if (login === undefined) throw new Error('expected a key login')
    const stream = await OpenSshStream.start(login, sh`head -c 4096 /dev/zero`, 'test')
    if (stream === undefined) throw new Error('expected OpenSSH to be used')
    expect((await leftovers()).length).toBe(1)
    expect((await stream.fill(Buffer.alloc(4096), false)).equals(Buffer.alloc(4096))).toBe(true)
    await stream.finish()
    // No close(): the folder went with OpenSSH.
    expect(await leftovers()).toEqual([])
  })

  it('stops OpenSSH when the read is cancelled', async () => {
    const shell = await RootShell.for(root)
    const f = await ExecRemoteFile.open(shell, file)
    const controller = new AbortController()
    const stream = f.stream(0, f.size, controller.signal)
    await stream.readMoving(Buffer.alloc(MiB), controller.signal)
    const next = stream.readMoving(Buffer.alloc(12 * MiB), controller.signal)
    controller.abort()
    await expect(next).rejects.toMatchObject({ code: 'CANCELLED' })
    stream.close()
    await f.close()
  })

  it('refuses a host that presents any key but the pinned one, and never falls back to another transport', async ({ skip }) => {
    if (!usable) skip()
    const login = root.keyLogin
    if (login === undefined) throw new Error('expected a key login')
    // Pin another key (as if the admin had confirmed a different host): OpenSSH must refuse the server's real key.
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'other')])
    const other = Buffer.from((await readFile(path.join(dir, 'other.pub'), 'utf8')).split(' ')[1] ?? '', 'base64')
    const pinnedElsewhere = { ...login, hostKey: other, pinnedFingerprint: sshKeyFingerprint(other).fingerprint }
    await expect(OpenSshStream.start(pinnedElsewhere, sh`cat /etc/hostname`, 'test')).rejects.toMatchObject({ code: 'HOST_KEY_MISMATCH' })
    // A key blob that does not match the pinned fingerprint is refused before anything is started.
    await expect(OpenSshStream.start({ ...login, hostKey: other }, sh`cat /etc/hostname`, 'test')).rejects.toMatchObject({ code: 'HOST_KEY_MISMATCH' })
    expect(await leftovers()).toEqual([])
  })
})
