import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { canRunSshHosts, startSshHost, type SshTestHost } from '../../../test-hosts/ssh-host'
import { SshConnection } from '../../../adapters/ssh/ssh-connection'
import { CHUNK_SIZE } from '../format.js'
import { initRepository } from '../repository.js'
import { sftpBackend } from './sftp-backend.js'
import { writeMixedImage } from '../testing/fixtures.js'
import { backupFile } from '../testing/helpers.js'

const run = promisify(execFile)
const can = canRunSshHosts()

// SFTP v3 has no "disk full" status (OpenSSH sends a bare SSH_FX_FAILURE): without asking the server for its free
// space, a full SFTP repository reached the admin as a vague storage failure instead of NO_SPACE.
describe.skipIf(!can.ok)('SFTP backend on a full filesystem', () => {
  let host: SshTestHost
  let dir: string
  let small: string

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lb-sftp-full-'))
    small = path.join(dir, 'small')
    await mkdir(small)
    // Mounted before sshd starts: its private mount namespace does not see later mounts.
    await run('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', small])
    host = await startSshHost({ hostname: 'lb-sftp-full' })
  })
  afterAll(async () => {
    await host.stop()
    await run('umount', ['-l', small]).catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
  })

  it('fails a backup that does not fit with NO_SPACE, saying the repository is full, and writes no restore point', async () => {
    const connection = await SshConnection.connect({
      host: host.address,
      port: host.port,
      username: 'root',
      secret: { type: 'key', privateKey: host.clientPrivateKey },
      pinnedFingerprint: host.fingerprint,
    })
    const folder = path.join(small, 'repo')
    const repo = await initRepository({ backend: sftpBackend({ connection, path: folder, label: `sftp://lb-sftp-full${folder}`, ownsConnection: true }), workers: 1 })
    try {
      const big = path.join(dir, 'big.img')
      await writeMixedImage(big, { blocks: 10, blockSize: CHUNK_SIZE, pattern: ['random'], seed: 3 })
      const failure = backupFile(repo, big)
      await expect(failure).rejects.toMatchObject({ code: 'NO_SPACE' })
      await expect(failure).rejects.toThrow(/is full\. No restore point was written/)
      expect(await repo.listPoints()).toEqual([])
      expect(await readdir(path.join(folder, 'locks'))).toEqual([])
    } finally {
      await repo.close()
    }
  }, 120_000)
})
