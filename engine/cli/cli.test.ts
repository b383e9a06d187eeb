import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../../e2e/support/cli'
import { canRunSshHosts, startSshHost, type SshTestHost } from '../../test-hosts/ssh-host'

describe('lifeboat CLI', () => {
  let home: string
  beforeAll(async () => {
    home = await mkdtemp(path.join(tmpdir(), 'lb-cli-'))
  })

  it('explains usage errors with exit code 2', async () => {
    const unknown = await runCli(home, ['host', 'frobnicate'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('unknown command')
    const missing = await runCli(home, ['host', 'add', '--kind', 'linux', '--name', 'x'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/--address is required|exactly one of --key/)
    const badOption = await runCli(home, ['vm', 'list', '--colour'])
    expect(badOption.code).toBe(2)
  })

  it('prints one JSON document for results and for errors', async () => {
    const list = await runCli(home, ['host', 'list', '--json'])
    expect(list.code).toBe(0)
    expect(JSON.parse(list.stdout)).toEqual([])
    const missing = await runCli(home, ['host', 'remove', 'nope', '--json'])
    expect(missing.code).toBe(1)
    expect(JSON.parse(missing.stdout)).toMatchObject({ error: { code: 'HOST_NOT_FOUND' } })
    const vms = await runCli(home, ['vm', 'list', '--json'])
    expect(JSON.parse(vms.stdout)).toEqual([])
  })

  it('refuses a damaged state file without touching it', async () => {
    const broken = await mkdtemp(path.join(tmpdir(), 'lb-cli-'))
    await writeFile(path.join(broken, 'hosts.json'), '{"version":1,"hosts":"oops"}')
    const res = await runCli(broken, ['host', 'list'])
    expect(res.code).toBe(1)
    expect(res.stderr).toContain('hosts.json does not have the expected layout')
  })
})

describe.skipIf(!canRunSshHosts().ok)('lifeboat host add / vm list against a real sshd', () => {
  let host: SshTestHost
  let home: string
  beforeAll(async () => {
    host = await startSshHost({ hostname: 'lb-cli-host' })
    home = await mkdtemp(path.join(tmpdir(), 'lb-cli-'))
  })
  afterAll(async () => host.stop())

  it('without a terminal, fails with the fingerprint to confirm and saves nothing', async () => {
    const res = await runCli(home, ['host', 'add', '--kind', 'linux', '--name', 'web01', '--address', host.address, '--user', host.user, '--password-stdin'], host.password)
    expect(res.code).toBe(1)
    expect(res.stderr).toContain(host.fingerprint)
    expect(res.stderr).toContain('--accept-fingerprint')
    expect(JSON.parse((await runCli(home, ['host', 'list', '--json'])).stdout)).toEqual([])
  })

  it('adds with --accept-fingerprint (password or key) and lists VMs as JSON', async () => {
    const pw = await runCli(home, ['host', 'add', '--kind', 'linux', '--name', 'web01', '--address', host.address, '--user', host.user, '--password-stdin', '--accept-fingerprint', host.fingerprint, '--json'], `${host.password}\n`)
    expect(pw.code, pw.stderr).toBe(0)
    expect(JSON.parse(pw.stdout)).toMatchObject({ name: 'web01', identity: { hostname: 'lb-cli-host' } })
    const key = await runCli(home, ['host', 'add', '--kind', 'linux', '--name', 'root@web01', '--address', `${host.address}:22`, '--user', 'root', '--key', host.clientKeyPath, '--accept-fingerprint', host.fingerprint])
    expect(key.code, key.stderr).toBe(0)
    expect(key.stdout).toContain('Added root@web01')
    const vms = await runCli(home, ['vm', 'list', '--host', 'web01', '--json'])
    expect(vms.code, vms.stderr).toBe(0)
    expect(Array.isArray(JSON.parse(vms.stdout))).toBe(true)
    const text = await runCli(home, ['host', 'list'])
    expect(text.stdout).toMatch(/web01\s+linux\s+lbadmin@/)
  })
})
