import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runCli } from '../../../e2e/support/cli'
import { canRunSshHosts, startSshHost, type SshTestHost } from '../../../test-hosts/ssh-host'
import { SshConnection } from '../../../adapters/ssh/ssh-connection'
import { CHUNK_SIZE } from '../format.js'
import { openRepository } from '../repository.js'
import { sftpBackend } from '../backends/sftp-backend.js'
import { writeMixedImage } from '../testing/fixtures.js'
import { expectSameAsFile } from '../testing/helpers.js'
import { killSshSessions } from '../testing/sftp-host.js'

const can = canRunSshHosts()
const passphrase = 'sftp copy test passphrase'
/** The CLI's environment: the passphrase, and nothing else of this machine's AWS or repository settings. */
const env = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && k !== 'LIFEBOAT_REPO_PASSPHRASE')),
  LIFEBOAT_REPO_PASSPHRASE: passphrase,
}

/** Chunk files that arrived whole (named by their id) and temp files of puts that did not finish, under a copy's folder. */
async function chunkFiles(folder: string): Promise<{ whole: string[]; temp: string[] }> {
  const entries = await readdir(path.join(folder, 'chunks'), { recursive: true, withFileTypes: true }).catch(() => [])
  const files = entries.filter((e) => e.isFile()).map((e) => e.name)
  return { whole: files.filter((f) => /^[0-9a-f]{64}$/.test(f)), temp: files.filter((f) => f.includes('.tmp-')) }
}

describe.skipIf(!can.ok)('points copy to SFTP whose SSH connection is cut mid-copy (real sshd, slowed link)', { timeout: 300_000 }, () => {
  let host: SshTestHost
  let dir: string
  let home: string

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lb-copy-sftp-'))
    home = path.join(dir, 'home')
    host = await startSshHost({ hostname: 'lb-copy-sftp' })
    const added = await runCli(
      home,
      ['host', 'add', '--kind', 'linux', '--name', 'backup01', '--address', host.address, '--user', host.user, '--key', host.clientKeyPath, '--accept-fingerprint', host.fingerprint],
      undefined,
      env,
    )
    expect(added.code, added.stderr).toBe(0)
  }, 120_000)
  afterAll(async () => {
    await host.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('fails plainly, leaves no point and no half-written chunk that counts, then resumes without sending again what arrived and restores byte-exact', async () => {
    const image = path.join(dir, 'web01.img')
    await writeMixedImage(image, { blocks: 12, blockSize: CHUNK_SIZE, pattern: ['random'], seed: 41 })
    // Folders of their own per try (the host lane retries a failed test).
    const source = path.join(dir, `source repo ${Date.now()}`)
    expect((await runCli(home, ['repo', 'init', '--repo', source], undefined, env)).code).toBe(0)
    const backup = await runCli(home, ['backup-file', image, '--name', 'web01', '--repo', source, '--json'], undefined, env)
    expect(backup.code, backup.stderr).toBe(0)
    const pointId = (JSON.parse(backup.stdout) as { id: string }).id
    const folder = path.join(host.dir, 'home', host.user, `copy-${Date.now()}`)
    const target = `sftp://backup01${folder.split('/').map(encodeURIComponent).join('/')}`

    // 40 Mbit/s into the host: a 4 MiB chunk takes about a second, so the cut surely lands between the first and the last.
    const unlimit = await host.limitReceiving(40)
    let cut: Awaited<ReturnType<typeof runCli>>
    try {
      const copying = runCli(home, ['points', 'copy', pointId, '--repo', source, '--to', target, '--json'], undefined, env)
      // Cut while at least three chunks are whole there and the next is being written.
      await expect
        .poll(
          async () => {
            const now = await chunkFiles(folder)
            return now.whole.length >= 3 && now.temp.length > 0
          },
          { timeout: 120_000, interval: 20 },
        )
        .toBe(true)
      expect(await killSshSessions(host)).toBeGreaterThan(0)
      cut = await copying
    } finally {
      await unlimit()
    }
    expect(cut.code, cut.stdout).toBe(1)
    expect((JSON.parse(cut.stdout) as { error: { message: string } }).error.message).toMatch(/storage|connection|SSH|SFTP/i)
    expect(await readdir(path.join(folder, 'points')).catch(() => [])).toEqual([])
    const arrived = await chunkFiles(folder)
    expect(arrived.whole.length).toBeGreaterThanOrEqual(3)
    expect(arrived.whole.length).toBeLessThan(12)

    const resumed = await runCli(home, ['points', 'copy', pointId, '--repo', source, '--to', target, '--json'], undefined, env)
    expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0)
    const report = JSON.parse(resumed.stdout) as { chunks: number; chunksSent: number; chunksResumed: number; chunksShared: number; alreadyThere: boolean }
    expect(report).toMatchObject({ chunks: 12, chunksShared: 0, alreadyThere: false })
    // Each chunk that arrived whole is read back and proven, not sent again; a half-written one (a temp file) is not one.
    expect(report.chunksResumed).toBe(arrived.whole.length)
    expect(report.chunksSent).toBe(12 - arrived.whole.length)
    expect((await chunkFiles(folder)).whole.length).toBe(12)

    const connection = await SshConnection.connect({
      host: host.address,
      port: host.port,
      username: host.user,
      secret: { type: 'key', privateKey: host.clientPrivateKey },
      pinnedFingerprint: host.fingerprint,
    })
    await using copy = await openRepository({ backend: sftpBackend({ connection, path: folder, ownsConnection: true }), workers: 1, passphrase })
    expect(await expectSameAsFile(await copy.openDisk(pointId, 'disk0'), image)).toBe(true)
    expect((await copy.verify()).ok).toBe(true)
    // What the cut left half-written is removed by the copy's own GC, never read as a chunk.
    const gc = await copy.gc()
    expect(gc.tempFilesDeleted).toBe(arrived.temp.length)
    expect((await chunkFiles(folder)).temp).toEqual([])
  })
})
