import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canRunSshHosts, startSshHost, type SshTestHost } from '../../test-hosts/ssh-host'
import { createEngine, type Engine } from '../engine'
import { dispatch } from './dispatch'

const can = canRunSshHosts()
const ctx = { signal: new AbortController().signal }

describe('dispatch', () => {
  let engine: Engine
  beforeAll(async () => {
    engine = await createEngine({ home: await mkdtemp(path.join(tmpdir(), 'lb-engine-')), door: 'cli' })
  })
  afterAll(async () => engine.dispose())

  it('refuses unknown channels and malformed input before any handler runs', async () => {
    expect(await dispatch(engine.handlers, 'hosts.format', {}, ctx)).toMatchObject({ ok: false, error: { code: 'UNKNOWN_CHANNEL' } })
    const bad = await dispatch(engine.handlers, 'hosts.add', { kind: 'windows98', name: '', address: 'a b', user: 'x', auth: { type: 'password', password: '' } }, ctx)
    expect(bad).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
    expect(await dispatch(engine.handlers, 'hosts.remove', 'not an object', ctx)).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
    expect(await dispatch(engine.handlers, 'hosts.remove', { hostId: 'x'.repeat(10_000) }, ctx)).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
    expect(await dispatch(engine.handlers, 'jobs.get', { jobId: '../../etc/passwd' }, ctx)).toMatchObject({ ok: false, error: { code: 'JOB_NOT_FOUND' } })
  })

  it('answers app.info and empty lists', async () => {
    expect(await dispatch(engine.handlers, 'app.info', {}, ctx)).toMatchObject({ ok: true, value: { door: 'cli', secretsProtection: expect.any(String) } })
    expect(await dispatch(engine.handlers, 'hosts.list', {}, ctx)).toEqual({ ok: true, value: [] })
    expect(await dispatch(engine.handlers, 'vms.list', {}, ctx)).toEqual({ ok: true, value: { vms: [], errors: [] } })
    expect(await dispatch(engine.handlers, 'vms.list', { host: 'nope' }, ctx)).toMatchObject({ ok: false, error: { code: 'HOST_NOT_FOUND' } })
  })
})

describe.skipIf(!can.ok)('host handlers against a real sshd', () => {
  let host: SshTestHost
  let engine: Engine
  let home: string
  beforeAll(async () => {
    host = await startSshHost({ hostname: 'lb-handlers' })
    home = await mkdtemp(path.join(tmpdir(), 'lb-engine-'))
    engine = await createEngine({ home, door: 'cli', connectTimeoutMs: 5000 })
  })
  afterAll(async () => {
    await engine.dispose()
    await host.stop()
  })

  const input = (extra: Record<string, unknown> = {}) => ({
    kind: 'linux',
    name: 'web01',
    address: host.address,
    user: host.user,
    auth: { type: 'password', password: host.password },
    ...extra,
  })

  it('adds a host only after its fingerprint is confirmed, and keeps secrets out of every answer', async () => {
    const first = await dispatch(engine.handlers, 'hosts.add', input(), ctx)
    expect(first).toMatchObject({ ok: false, error: { code: 'HOST_KEY_UNKNOWN', params: { fingerprint: host.fingerprint } } })
    expect(await dispatch(engine.handlers, 'hosts.list', {}, ctx)).toEqual({ ok: true, value: [] })

    const wrong = await dispatch(engine.handlers, 'hosts.add', input({ acceptFingerprint: 'SHA256:' + 'A'.repeat(43) }), ctx)
    expect(wrong).toMatchObject({ ok: false, error: { code: 'HOST_KEY_MISMATCH' } })

    const added = await dispatch(engine.handlers, 'hosts.add', input({ acceptFingerprint: host.fingerprint }), ctx)
    expect(added).toMatchObject({ ok: true, value: { name: 'web01', fingerprint: host.fingerprint, identity: { hostname: 'lb-handlers' } } })
    expect(JSON.stringify(added)).not.toContain(host.password)

    const dup = await dispatch(engine.handlers, 'hosts.add', input({ name: 'WEB01', acceptFingerprint: host.fingerprint }), ctx)
    expect(dup).toMatchObject({ ok: false, error: { code: 'HOST_NAME_TAKEN' } })

    const hostsFile = await readFile(path.join(home, 'hosts.json'), 'utf8')
    expect(hostsFile).not.toContain(host.password)
    for (const channel of ['hosts.list', 'inventory.tree', 'vms.list', 'jobs.list'] as const) {
      expect(JSON.stringify(await dispatch(engine.handlers, channel, {}, ctx))).not.toContain(host.password)
    }
  })

  it('tests, lists VMs and removes a host with its credentials', async () => {
    const test = await dispatch(engine.handlers, 'hosts.test', { hostId: 'web01' }, ctx)
    expect(test).toMatchObject({ ok: true, value: { identity: { hostname: 'lb-handlers' }, fingerprint: host.fingerprint } })
    const vms = await dispatch(engine.handlers, 'vms.list', { host: 'web01' }, ctx)
    expect(vms).toMatchObject({ ok: true, value: { errors: [] } })
    const removed = await dispatch(engine.handlers, 'hosts.remove', { hostId: 'web01' }, ctx)
    expect(removed).toMatchObject({ ok: true, value: { name: 'web01' } })
    expect(JSON.parse(await readFile(path.join(home, 'secrets.json'), 'utf8'))).toEqual({ version: 1, secrets: {} })
  })

  it('a wrong password saves nothing', async () => {
    const res = await dispatch(engine.handlers, 'hosts.add', input({ name: 'x', auth: { type: 'password', password: 'bad' }, acceptFingerprint: host.fingerprint }), ctx)
    expect(res).toMatchObject({ ok: false, error: { code: 'AUTH_FAILED' } })
    expect(await dispatch(engine.handlers, 'hosts.list', {}, ctx)).toEqual({ ok: true, value: [] })
  })

  it('reports an unreachable host in vms.list instead of hiding it', async () => {
    await dispatch(engine.handlers, 'hosts.add', input({ name: 'soon-gone', acceptFingerprint: host.fingerprint }), ctx)
    await engine.hosts.update((await engine.hosts.find('soon-gone'))!.id, { port: 2299 })
    const vms = await dispatch(engine.handlers, 'vms.list', { host: 'soon-gone' }, ctx)
    expect(vms).toMatchObject({ ok: true, value: { vms: [], errors: [{ host: 'soon-gone', error: { code: 'HOST_UNREACHABLE' } }] } })
  })
})
