import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../../e2e/support/cli'
import { canRunSshHosts, startSshHost, type SshTestHost } from '../../test-hosts/ssh-host'
import { dispatch } from '../api/dispatch'
import { createEngine, type Engine } from '../engine'
import { startS3, type TestS3 } from '../repository/testing/s3-server'

const ctx = { signal: new AbortController().signal }
/** The CLI's environment: no AWS credentials or repository passphrase leak in from the machine running the tests. */
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && k !== 'LIFEBOAT_REPO_PASSPHRASE'))

async function finished(engine: Engine, res: Awaited<ReturnType<typeof dispatch>>) {
  if (!res.ok) throw new Error(res.error.message)
  const { jobId } = res.value as { jobId: string }
  await expect.poll(async () => (await engine.jobs.get(jobId)).state, { timeout: 60_000 }).not.toMatch(/running|cancelling|queued/)
  return await engine.jobs.get(jobId)
}

/** A small image: random, zero and text data, so dedup, zero chunks and compression all take part. */
async function writeImage(file: string): Promise<Buffer> {
  const data = Buffer.concat([randomBytes(5 * 1024 * 1024), Buffer.alloc(4 * 1024 * 1024), Buffer.from('lifeboat '.repeat(300_000))])
  await writeFile(file, data)
  return data
}

describe('repository locations: refused before anything is opened', () => {
  let dir: string
  let engine: Engine
  beforeAll(async () => {
    for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) Reflect.deleteProperty(process.env, k)
    dir = await mkdtemp(path.join(tmpdir(), 'lb-locations-'))
    engine = await createEngine({ home: path.join(dir, 'home'), door: 'cli' })
  })
  afterAll(async () => {
    await engine.dispose()
    await rm(dir, { recursive: true, force: true })
  })

  it('names the repo field for a location that does not parse, on every channel, jobs included', async () => {
    for (const [channel, extra] of [
      ['repo.info', {}],
      ['repo.init', {}],
      ['points.list', {}],
      ['repo.verify', {}],
      ['repo.gc', {}],
      ['backup.file', { image: '/nonexistent.img' }],
    ] as const) {
      for (const repo of ['relative/folder', 'ftp://nas/backups', 'sftp://admin@web01/srv/x', 's3://Not_A_Bucket/x']) {
        const res = await dispatch(engine.handlers, channel, { repo, ...extra }, ctx)
        expect(res, `${channel} ${repo}`).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT', params: { field: 'repo' } } })
      }
    }
    expect((await engine.jobs.list(100)).length).toBe(0)
  })

  it('refuses an sftp:// host that is not saved, without connecting anywhere', async () => {
    const res = await dispatch(engine.handlers, 'repo.init', { repo: 'sftp://nosuchhost/srv/lifeboat' }, ctx)
    expect(res).toMatchObject({ ok: false, error: { code: 'HOST_NOT_FOUND', params: { host: 'nosuchhost', field: 'repo' } } })
    const cli = await runCli(path.join(dir, 'home'), ['points', 'list', '--repo', 'sftp://nosuchhost/srv/lifeboat', '--json'], undefined, cleanEnv)
    expect(cli.code).toBe(1)
    expect(JSON.parse(cli.stdout)).toMatchObject({ error: { code: 'HOST_NOT_FOUND' } })
    const text = await runCli(path.join(dir, 'home'), ['repo', 'info', '--repo', 'sftp://nosuchhost/srv/lifeboat'], undefined, cleanEnv)
    expect(text.stderr).toContain('There is no saved host named "nosuchhost"')
  })

  it('the CLI explains a bad location with exit code 1 and the field', async () => {
    const res = await runCli(path.join(dir, 'home'), ['repo', 'init', '--repo', 's3://bucket/x?acl=public', '--json'], undefined, cleanEnv)
    expect(res.code).toBe(1)
    expect(JSON.parse(res.stdout)).toMatchObject({ error: { code: 'INVALID_INPUT', params: { field: 'repo' } } })
    const usage = await runCli(path.join(dir, 'home'), ['repo', 'init', '--repo', 's3://bucket/x', '--s3-secret-stdin'], 'x\n', cleanEnv)
    expect(usage.code).toBe(2)
    expect(usage.stderr).toContain('--s3-access-key ID and --s3-secret-stdin go together')
  })

  it('keeps folders working as before: --repo DIR and file:///DIR are the same repository', async () => {
    const folder = path.join(dir, 'folder repo')
    const init = await runCli(path.join(dir, 'home'), ['repo', 'init', '--repo', folder, '--json'], undefined, cleanEnv)
    expect(init.code, init.stderr).toBe(0)
    expect(JSON.parse(init.stdout)).toMatchObject({ location: folder })
    const viaUrl = await dispatch(engine.handlers, 'repo.info', { repo: `file://${folder.split('/').map(encodeURIComponent).join('/')}` }, ctx)
    expect(viaUrl).toMatchObject({ ok: true, value: { location: folder, points: 0 } })
    expect(await dispatch(engine.handlers, 'repo.info', { repo: `${folder}-typo` }, ctx)).toMatchObject({ ok: false, error: { code: 'REPO_NOT_FOUND' } })
    await expect(stat(`${folder}-typo`)).rejects.toThrow(/ENOENT/)
  })
})

describe('an s3:// repository (s3rver on 127.0.0.1)', () => {
  let dir: string
  let home: string
  let engine: Engine
  let s3: TestS3
  let location: string
  let image: string
  let data: Buffer

  beforeAll(async () => {
    for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) Reflect.deleteProperty(process.env, k)
    dir = await mkdtemp(path.join(tmpdir(), 'lb-s3-location-'))
    home = path.join(dir, 'home')
    s3 = await startS3(path.join(dir, 's3'))
    const endpoint = await s3.client.config.endpoint?.()
    location = `s3://${s3.bucket}/shop1/vms?endpoint=http://127.0.0.1:${endpoint?.port ?? 0}`
    image = path.join(dir, 'web01.raw')
    data = await writeImage(image)
    engine = await createEngine({ home, door: 'cli' })
  })
  afterAll(async () => {
    await engine.dispose()
    await s3[Symbol.asyncDispose]()
    await rm(dir, { recursive: true, force: true })
  })

  it('needs credentials: from the environment, or saved by repo init', async () => {
    expect(await dispatch(engine.handlers, 'repo.init', { repo: location }, ctx)).toMatchObject({ ok: false, error: { code: 'SECRET_MISSING', params: { field: 'repo' } } })
    const res = await runCli(home, ['repo', 'info', '--repo', location], undefined, { ...cleanEnv, AWS_ACCESS_KEY_ID: 'only-the-id' })
    expect(res.code).toBe(1)
    expect(res.stderr).toContain('Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (only the first is set)')
    expect(await readFile(path.join(home, 'secrets.json'), 'utf8').catch(() => '')).not.toContain('repo-s3:')
  })

  it('is created with credentials and a passphrase from stdin, then backs up, lists and verifies through the CLI and the contract', async () => {
    // s3rver accepts any key pair; what matters here is where the secret goes, and where it never goes.
    const secret = 'S3-secret-never-printed-9f2'
    const init = await runCli(home, ['repo', 'init', '--repo', location, '--passphrase-stdin', '--s3-access-key', 'S3RVER', '--s3-secret-stdin'], `correct horse battery\n${secret}\n`, cleanEnv)
    expect(init.code, init.stderr).toBe(0)
    const normalised = location.replace('/vms?', '/vms/?')
    expect(init.stdout).toContain(`Created an encrypted repository at ${normalised}.`)
    const secrets = await readFile(path.join(home, 'secrets.json'), 'utf8')
    expect(secrets).not.toContain('correct horse battery')
    expect(secrets).not.toContain(secret)
    expect(secrets).toContain(`repo-s3:${normalised}`)
    const twice = await runCli(home, ['repo', 'init', '--repo', location, '--s3-access-key', 'S3RVER', '--s3-secret-stdin', '--json'], 'other-secret-77\n', cleanEnv)
    expect(twice.code, twice.stdout).toBe(1)
    expect(JSON.parse(twice.stdout)).toMatchObject({ error: { code: 'REPO_EXISTS' } })
    // s3rver knows one access key: another is refused (HTTP 403), with a message that says so.
    const refused = await runCli(home, ['repo', 'init', '--repo', location, '--s3-access-key', 'OTHER', '--s3-secret-stdin', '--json'], 'other-secret-77\n', cleanEnv)
    expect(JSON.parse(refused.stdout)).toMatchObject({ error: { code: 'STORAGE_FAILED', message: expect.stringContaining('answered HTTP 403') } })
    expect(twice.stdout + twice.stderr + refused.stdout + refused.stderr).not.toContain('other-secret-77')
    // A failed init saves nothing: the first credentials stay.
    expect(await readFile(path.join(home, 'secrets.json'), 'utf8')).toBe(secrets)

    const backup = await runCli(home, ['backup-file', image, '--name', 'web01', '--repo', location, '--json'], undefined, cleanEnv)
    expect(backup.code, backup.stderr).toBe(0)
    const point = JSON.parse(backup.stdout) as { id: string; stats: { bytesNew: number } }
    const again = await finished(engine, await dispatch(engine.handlers, 'backup.file', { image, vmName: 'web01', repo: location }, ctx))
    expect(again.result).toMatchObject({ stats: { bytesNew: 0 } })

    const list = await dispatch(engine.handlers, 'points.list', { repo: location, vm: 'web01' }, ctx)
    expect(list.ok && (list.value as { id: string }[]).map((p) => p.id)).toContain(point.id)
    expect(await dispatch(engine.handlers, 'repo.info', { repo: location }, ctx)).toMatchObject({ ok: true, value: { location: normalised, encrypted: true, points: 2 } })
    const verify = await finished(engine, await dispatch(engine.handlers, 'repo.verify', { repo: location }, ctx))
    expect(verify.result).toMatchObject({ ok: true })
    expect(verify.title).toContain(normalised)
    const cliVerify = await runCli(home, ['repo', 'verify', '--repo', location], undefined, cleanEnv)
    expect(cliVerify.code, cliVerify.stderr).toBe(0)
    expect(cliVerify.stdout).toContain('All intact')

    const out = path.join(dir, 'out.raw')
    const exp = await finished(engine, await dispatch(engine.handlers, 'points.export', { repo: location, pointId: point.id, disk: 'disk0', format: 'raw', output: out }, ctx))
    expect(exp.state).toBe('succeeded')
    expect((await readFile(out)).equals(data)).toBe(true)
    for (const job of await engine.jobs.list(100)) expect(JSON.stringify(await engine.jobs.get(job.id))).not.toContain(secret)
  })

  it('does not start a repository at a mistyped prefix', async () => {
    const typo = location.replace('/vms?', '/vsm?')
    const res = await runCli(home, ['points', 'list', '--repo', typo, '--json'], undefined, { ...cleanEnv, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' })
    expect(res.code).toBe(1)
    expect(JSON.parse(res.stdout)).toMatchObject({ error: { code: 'REPO_NOT_FOUND' } })
    expect(await readdir(path.join(dir, 's3', s3.bucket, 'shop1'))).not.toContain('vsm')
  })
})

describe.skipIf(!canRunSshHosts().ok)('an sftp:// repository on a saved host (real sshd, unprivileged user)', () => {
  let dir: string
  let home: string
  let engine: Engine
  let host: SshTestHost
  let folder: string
  let location: string
  let image: string

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lb-sftp-location-'))
    home = path.join(dir, 'home')
    host = await startSshHost({ hostname: 'lb-backup01' })
    folder = path.join(host.dir, 'home', host.user, 'lifeboat repo')
    location = `sftp://Backup01${folder.split('/').map(encodeURIComponent).join('/')}`
    image = path.join(dir, 'web01.raw')
    await writeImage(image)
    engine = await createEngine({ home, door: 'cli', connectTimeoutMs: 5000 })
    const added = await runCli(home, ['host', 'add', '--kind', 'linux', '--name', 'backup01', '--address', host.address, '--user', host.user, '--key', host.clientKeyPath, '--accept-fingerprint', host.fingerprint], undefined, cleanEnv)
    expect(added.code, added.stderr).toBe(0)
  })
  afterAll(async () => {
    await engine.dispose()
    await host.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('is created on purpose, by the saved host\'s user, then backs up, lists and verifies through the contract and the CLI', async () => {
    const normalised = location.replace('Backup01', 'backup01')
    expect(await dispatch(engine.handlers, 'points.list', { repo: location }, ctx)).toMatchObject({ ok: false, error: { code: 'REPO_NOT_FOUND', params: { location: normalised } } })
    await expect(stat(folder)).rejects.toThrow(/ENOENT/)
    const init = await dispatch(engine.handlers, 'repo.init', { repo: location, passphrase: 'correct horse battery' }, ctx)
    expect(init).toMatchObject({ ok: true, value: { location: normalised, encrypted: true } })
    expect((await stat(path.join(folder, 'config.json'))).uid).toBe(15000)

    const job = await finished(engine, await dispatch(engine.handlers, 'backup.file', { image, vmName: 'web01', repo: location }, ctx))
    expect(job.state, job.error?.message).toBe('succeeded')
    expect(job.title).toBe('Back up web01.raw')
    const cliBackup = await runCli(home, ['backup-file', image, '--name', 'web01', '--repo', location, '--json'], undefined, cleanEnv)
    expect(cliBackup.code, cliBackup.stderr).toBe(0)
    expect(JSON.parse(cliBackup.stdout)).toMatchObject({ stats: { bytesNew: 0 } })

    const list = await runCli(home, ['points', 'list', '--repo', location, '--json'], undefined, cleanEnv)
    expect(list.code, list.stderr).toBe(0)
    expect(JSON.parse(list.stdout)).toHaveLength(2)
    const table = await runCli(home, ['points', 'list', '--repo', location], undefined, cleanEnv)
    expect(table.stdout).toContain('web01')

    const verify = await finished(engine, await dispatch(engine.handlers, 'repo.verify', { repo: location }, ctx))
    expect(verify.result).toMatchObject({ ok: true, pointsChecked: 2 })
    const cliVerify = await runCli(home, ['repo', 'verify', '--repo', location], undefined, cleanEnv)
    expect(cliVerify.code, cliVerify.stderr).toBe(0)
    expect(cliVerify.stdout).toContain('All intact')
    const info = await runCli(home, ['repo', 'info', '--repo', location], undefined, cleanEnv)
    expect(info.stdout).toContain(normalised)
    expect(info.stdout).not.toContain(host.address)
  })

  it('never starts a repository at a mistyped folder', async () => {
    const res = await runCli(home, ['repo', 'info', '--repo', `${location}-typo`, '--json'], undefined, cleanEnv)
    expect(res.code).toBe(1)
    expect(JSON.parse(res.stdout)).toMatchObject({ error: { code: 'REPO_NOT_FOUND' } })
    await expect(stat(`${folder}-typo`)).rejects.toThrow(/ENOENT/)
  })

  it('connects only with the host key the admin confirmed', async () => {
    await host.changeHostKey()
    const res = await dispatch(engine.handlers, 'points.list', { repo: location }, ctx)
    expect(res).toMatchObject({ ok: false, error: { code: 'HOST_KEY_MISMATCH' } })
  })
})
