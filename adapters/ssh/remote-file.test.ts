import { randomBytes } from 'node:crypto'
import { chmod, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canRunSshHosts, startSshHost, type SshTestHost } from '../../test-hosts/ssh-host'
import { SshRemoteFile } from './remote-file'
import { SshConnection } from './ssh-connection'

describe.skipIf(!canRunSshHosts().ok)('remote files over SSH', () => {
  let host: SshTestHost
  let conn: SshConnection
  let file: string
  const data = randomBytes(20 * 1024 * 1024 + 12345)

  beforeAll(async () => {
    host = await startSshHost({ hostname: 'lb-remote-file' })
    const dir = await mkdtemp(path.join(tmpdir(), 'lb-remote-'))
    await chmod(dir, 0o755)
    file = path.join(dir, "disk 'one'.img")
    await writeFile(file, data)
    await chmod(file, 0o644)
    conn = await SshConnection.connect({ host: host.address, port: host.port, username: host.user, secret: { type: 'password', password: host.password }, pinnedFingerprint: host.fingerprint })
  })
  afterAll(async () => {
    await conn.close()
    await host.stop()
  })

  it('reads random ranges, many at once, exactly', async () => {
    const f = await SshRemoteFile.open(conn, file)
    try {
      expect(f.size).toBe(data.length)
      const ranges = Array.from({ length: 40 }, (_, i) => ({ offset: (i * 524_287) % (data.length - 1_000_000), length: 1 + ((i * 77_777) % 900_000) }))
      const parts = await Promise.all(ranges.map((r) => f.readRange(r.offset, r.length)))
      parts.forEach((part, i) => expect(part.equals(data.subarray(ranges[i]!.offset, ranges[i]!.offset + ranges[i]!.length))).toBe(true))
      expect((await f.readRange(data.length - 10, 10)).equals(data.subarray(-10))).toBe(true)
      await expect(f.readRange(data.length - 10, 11)).rejects.toThrow(RangeError)
    } finally {
      await f.close()
    }
  })

  it('streams the whole file and any range at full speed, byte-exact', async () => {
    const f = await SshRemoteFile.open(conn, file)
    try {
      const whole: Buffer[] = []
      for await (const chunk of f.stream(0, f.size)) whole.push(chunk)
      expect(Buffer.concat(whole).equals(data)).toBe(true)
      const part: Buffer[] = []
      for await (const chunk of f.stream(5_000_001, 7_777_777)) part.push(chunk)
      expect(Buffer.concat(part).equals(data.subarray(5_000_001, 5_000_001 + 7_777_777))).toBe(true)
    } finally {
      await f.close()
    }
  })

  it('stops the remote reader when the consumer stops or cancels', async () => {
    const f = await SshRemoteFile.open(conn, file)
    try {
      let n = 0
      for await (const chunk of f.stream(0, f.size)) {
        n += chunk.length
        if (n > 1_000_000) break
      }
      const ac = new AbortController()
      const reading = (async () => {
        for await (const _ of f.stream(0, f.size, ac.signal)) ac.abort()
      })()
      await expect(reading).rejects.toMatchObject({ code: 'CANCELLED' })
      // The connection is still usable.
      expect((await f.readRange(0, 4)).equals(data.subarray(0, 4))).toBe(true)
    } finally {
      await f.close()
    }
  })

  it('says what is wrong with a missing or unreadable file', async () => {
    await expect(SshRemoteFile.open(conn, '/nonexistent/disk.img')).rejects.toMatchObject({ code: 'NOT_FOUND' })
    const secret = path.join(await mkdtemp(path.join(tmpdir(), 'lb-secret-')), 'x')
    await writeFile(secret, 'x')
    await chmod(secret, 0o600)
    await expect(SshRemoteFile.open(conn, secret)).rejects.toMatchObject({ code: 'PERMISSION_DENIED' })
  })
})
