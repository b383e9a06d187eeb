import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canRunSshHosts, cutSshSessions, startSshHost, type SshTestHost } from '../../test-hosts/ssh-host'
import { AdapterError } from '../host-adapter'
import { SshConnection } from './ssh-connection'
import { sh } from './shell-quote'

const can = canRunSshHosts()

describe.skipIf(!can.ok)('SshConnection against a real sshd in a network namespace', () => {
  let host: SshTestHost
  beforeAll(async () => {
    host = await startSshHost({ hostname: 'lb-ssh-unit' })
  })
  afterAll(async () => {
    await host.stop()
  })

  const base = () => ({ host: host.address, port: host.port, username: host.user })

  async function connectError(promise: Promise<SshConnection>): Promise<AdapterError> {
    try {
      const conn = await promise
      await conn.close()
    } catch (err) {
      if (err instanceof AdapterError) return err
      throw err
    }
    throw new Error('expected the connection to fail')
  }

  it('stops before authentication when the host key is not pinned, and reports the same fingerprint ssh-keygen prints', async () => {
    const err = await connectError(SshConnection.connect({ ...base(), secret: { type: 'password', password: host.password } }))
    expect(err.code).toBe('HOST_KEY_UNKNOWN')
    expect(err.params.fingerprint).toBe(host.fingerprint)
    expect(err.params.keyType).toBe('ssh-ed25519')
  })

  it('connects with the pinned key and a password, and runs commands', async () => {
    await using conn = await SshConnection.connect({
      ...base(),
      secret: { type: 'password', password: host.password },
      pinnedFingerprint: host.fingerprint,
    })
    expect(conn.fingerprint).toBe(host.fingerprint)
    expect((await conn.run(sh`uname -n`)).trim()).toBe('lb-ssh-unit')
    expect((await conn.run(sh`id -un`)).trim()).toBe(host.user)
  })

  it('connects as root with a private key', async () => {
    await using conn = await SshConnection.connect({
      host: host.address,
      port: host.port,
      username: 'root',
      secret: { type: 'key', privateKey: host.clientPrivateKey },
      pinnedFingerprint: host.fingerprint,
    })
    expect((await conn.run(sh`id -u`)).trim()).toBe('0')
  })

  it('sends a big channel write as a few socket writes, not one per SSH packet, and every byte arrives', async () => {
    await using conn = await SshConnection.connect({ ...base(), secret: { type: 'password', password: host.password }, pinnedFingerprint: host.fingerprint })
    const sock = (conn as unknown as { client: { _sock: { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void } } }).client._sock
    let calls = 0
    for (const name of ['_write', '_writev'] as const) {
      const original = sock[name].bind(sock)
      sock[name] = (...args: unknown[]) => {
        calls++
        original(...args)
      }
    }
    const exec = await conn.execDuplex(sh`wc -c`)
    const out: Buffer[] = []
    exec.channel.on('data', (d: Buffer) => out.push(d))
    const data = Buffer.alloc(8 * 1024 * 1024, 7)
    exec.channel.end(data)
    expect((await exec.exited).code).toBe(0)
    expect(Buffer.concat(out).toString().trim()).toBe(String(data.length))
    // 8 MiB is 256 packets of at most 32 KiB; sent one by one that is over 256 socket writes.
    expect(calls).toBeLessThan(64)
  })

  it('reports a wrong password as AUTH_FAILED', async () => {
    const err = await connectError(
      SshConnection.connect({ ...base(), secret: { type: 'password', password: 'wrong' }, pinnedFingerprint: host.fingerprint }),
    )
    expect(err.code).toBe('AUTH_FAILED')
    expect(err.message).not.toContain('wrong')
  })

  it('reports an unreadable private key as KEY_INVALID', async () => {
    const err = await connectError(
      SshConnection.connect({ ...base(), secret: { type: 'key', privateKey: 'not a key' }, pinnedFingerprint: host.fingerprint }),
    )
    expect(err.code).toBe('KEY_INVALID')
  })

  it('refuses a host whose key differs from the pinned one', async () => {
    const err = await connectError(
      SshConnection.connect({
        ...base(),
        secret: { type: 'password', password: host.password },
        pinnedFingerprint: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      }),
    )
    expect(err.code).toBe('HOST_KEY_MISMATCH')
    expect(err.params.fingerprint).toBe(host.fingerprint)
  })

  it('reports a closed port as HOST_UNREACHABLE', async () => {
    const err = await connectError(
      SshConnection.connect({ ...base(), port: 2299, secret: { type: 'password', password: host.password } }),
    )
    expect(err.code).toBe('HOST_UNREACHABLE')
    expect(err.message).toContain('refused')
  })

  it('passes hostile names to the remote shell as plain strings', async () => {
    await using conn = await SshConnection.connect({
      ...base(),
      secret: { type: 'password', password: host.password },
      pinnedFingerprint: host.fingerprint,
    })
    const names = [`vm with spaces`, `it's`, `a"b`, `x; touch /tmp/pwned-lb`, `$(touch /tmp/pwned-lb)`, '`id`', 'line1\nline2', '-n', '*', '~root', '\\', 'ünïcødé ☃']
    for (const name of names) {
      expect(await conn.run(sh`printf %s ${name}`)).toBe(name)
    }
    const check = await conn.exec(sh`test -e /tmp/pwned-lb`)
    expect(check.code).toBe(1)
  })

  it('reports the exit status of many quick commands, in parallel', async () => {
    await using conn = await SshConnection.connect({
      ...base(),
      secret: { type: 'password', password: host.password },
      pinnedFingerprint: host.fingerprint,
    })
    const results = await Promise.all(Array.from({ length: 120 }, (_, i) => conn.exec(sh`exit ${i % 3}`)))
    expect(results.map((r) => r.code)).toEqual(Array.from({ length: 120 }, (_, i) => i % 3))
  })

  it('bounds the output it collects', async () => {
    await using conn = await SshConnection.connect({
      ...base(),
      secret: { type: 'password', password: host.password },
      pinnedFingerprint: host.fingerprint,
    })
    await expect(conn.exec(sh`head -c 2000000 /dev/zero`, { maxOutputBytes: 100_000 })).rejects.toMatchObject({ code: 'BAD_RESPONSE' })
    // The connection stays usable afterwards.
    expect((await conn.run(sh`echo ok`)).trim()).toBe('ok')
  })

  it('cancels a running command', async () => {
    await using conn = await SshConnection.connect({
      ...base(),
      secret: { type: 'password', password: host.password },
      pinnedFingerprint: host.fingerprint,
    })
    const ac = new AbortController()
    const started = Date.now()
    setTimeout(() => ac.abort(), 200)
    await expect(conn.exec(sh`sleep 30`, { signal: ac.signal })).rejects.toMatchObject({ code: 'CANCELLED' })
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it('tells its close listeners whether the connection was lost (sessions cut on the host) or closed on purpose', async () => {
    const connect = () => SshConnection.connect({ ...base(), secret: { type: 'password', password: host.password }, pinnedFingerprint: host.fingerprint })
    const dropped = await connect()
    const lost = new Promise<{ lost: boolean; reason: string }>((resolve) => dropped.onClose(resolve))
    await cutSshSessions(host)
    expect((await lost).lost).toBe(true)
    expect(dropped.isOpen).toBe(false)
    // A listener added after the close hears of it too.
    await expect(new Promise((resolve) => dropped.onClose(resolve))).resolves.toMatchObject({ lost: true })

    const ended = await connect()
    const heard: boolean[] = []
    const removed = await connect()
    const off = removed.onClose(() => heard.push(true))
    off()
    const closed = new Promise<{ lost: boolean }>((resolve) => ended.onClose(resolve))
    await ended.close()
    await removed.close()
    expect(await closed).toMatchObject({ lost: false })
    expect(heard).toEqual([])
  })

  it('a changed host key is refused after it was pinned', async () => {
    const old = host.fingerprint
    await host.changeHostKey()
    expect(host.fingerprint).not.toBe(old)
    const err = await connectError(
      SshConnection.connect({ ...base(), secret: { type: 'password', password: host.password }, pinnedFingerprint: old }),
    )
    expect(err.code).toBe('HOST_KEY_MISMATCH')
  })
})
