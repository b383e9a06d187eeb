import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../../e2e/support/cli'
import { createEngine, type Engine } from '../engine'
import { chunkFiles, flipBit } from '../repository/testing/tamper'
import { dispatch } from './dispatch'

const ctx = { signal: new AbortController().signal }

async function finished(engine: Engine, res: Awaited<ReturnType<typeof dispatch>>) {
  if (!res.ok) throw new Error(res.error.message)
  const { jobId } = res.value as { jobId: string }
  await expect.poll(async () => (await engine.jobs.get(jobId)).state, { timeout: 60_000 }).not.toMatch(/running|cancelling|queued/)
  return await engine.jobs.get(jobId)
}

describe('repository through the contract and the CLI', () => {
  let dir: string
  let engine: Engine
  let image: string
  const data = Buffer.concat([randomBytes(9 * 1024 * 1024), Buffer.alloc(8 * 1024 * 1024), Buffer.from('x'.repeat(3 * 1024 * 1024 + 17))])

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lb-repo-api-'))
    image = path.join(dir, 'web01 disk.raw')
    await writeFile(image, data)
    engine = await createEngine({ home: path.join(dir, 'home'), door: 'cli' })
  })
  afterAll(async () => engine.dispose())

  it('backs up an image file into the default repository (created on first use) and lists it', async () => {
    const job = await finished(engine, await dispatch(engine.handlers, 'backup.file', { image, vmName: 'web01' }, ctx))
    expect(job.state).toBe('succeeded')
    expect(job.result).toMatchObject({ vm: { name: 'web01' }, mode: 'cold', consistency: 'offline', disks: [{ name: 'disk0', size: data.length }] })
    expect(job.retry).toEqual({ channel: 'backup.file', input: { image, vmName: 'web01' } })
    const listed = await dispatch(engine.handlers, 'jobs.list', {}, ctx)
    expect(listed.ok && listed.value).toEqual([expect.objectContaining({ id: job.id, retryable: true })])
    expect(listed.ok && JSON.stringify(listed.value)).not.toContain('"retry"')
    // Retry sends the stored request again: a new job, a second restore point that stores nothing new.
    const again = await finished(engine, await dispatch(engine.handlers, 'jobs.retry', { jobId: job.id }, ctx))
    expect(again.id).not.toBe(job.id)
    expect(again.result).toMatchObject({ stats: { bytesNew: 0 } })
    expect(await dispatch(engine.handlers, 'jobs.retry', { jobId: 'nope' }, ctx)).toMatchObject({ ok: false, error: { code: 'JOB_NOT_FOUND' } })
    const points = await dispatch(engine.handlers, 'points.list', { vm: 'WEB01' }, ctx)
    expect(points.ok && (points.value as unknown[]).length).toBe(2)
    expect(await dispatch(engine.handlers, 'repo.info', {}, ctx)).toMatchObject({ ok: true, value: { points: 2, encrypted: false } })
  })

  it('exports a disk byte-identical, and verify names a damaged restore point', async () => {
    const points = await dispatch(engine.handlers, 'points.list', {}, ctx)
    const pointId = points.ok ? (points.value as { id: string }[])[0]!.id : ''
    const out = path.join(dir, 'out.raw')
    const exp = await finished(engine, await dispatch(engine.handlers, 'points.export', { pointId, disk: 'disk0', format: 'raw', output: out }, ctx))
    expect(exp.state).toBe('succeeded')
    expect((await readFile(out)).equals(data)).toBe(true)

    const repoDir = path.join(dir, 'home', 'repository')
    // The largest chunk: random data, never shorter than the offset (the zero and 'x' chunks compress to a few bytes).
    const sized = await Promise.all((await chunkFiles(repoDir)).map(async (f) => ({ f, size: (await stat(f)).size })))
    const chunk = sized.sort((a, b) => b.size - a.size)[0]!.f
    await flipBit(chunk, 200)
    const verify = await finished(engine, await dispatch(engine.handlers, 'repo.verify', {}, ctx))
    expect(verify.result).toMatchObject({ ok: false })
    expect((verify.result as { damagedPoints: unknown[] }).damagedPoints).toHaveLength(2)
    const cli = await runCli(path.join(dir, 'home'), ['repo', 'verify'])
    expect(cli.code).toBe(1)
    expect(cli.stdout).toContain('damaged restore point')
  })

  it('prunes per the rules (dry run first) and refuses an empty policy', async () => {
    const dry = await dispatch(engine.handlers, 'repo.prune', { policy: { keepLast: 1 } }, ctx)
    expect(dry).toMatchObject({ ok: true, value: { dryRun: true } })
    expect(dry.ok && (dry.value as { removed: unknown[] }).removed).toHaveLength(1)
    expect(await dispatch(engine.handlers, 'repo.prune', { policy: {} }, ctx)).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
  })

  it('creates an encrypted repository elsewhere, keeps its passphrase, and never invents one from a typo', async () => {
    const other = path.join(dir, 'encrypted-repo')
    expect(await dispatch(engine.handlers, 'repo.info', { repo: other }, ctx)).toMatchObject({ ok: false, error: { code: 'REPO_NOT_FOUND' } })
    expect(await dispatch(engine.handlers, 'repo.init', { repo: other, passphrase: 'correct horse battery' }, ctx)).toMatchObject({ ok: true, value: { encrypted: true } })
    expect(await dispatch(engine.handlers, 'repo.info', { repo: other }, ctx)).toMatchObject({ ok: true, value: { encrypted: true, points: 0 } })
    const saved = await runCli(path.join(dir, 'home'), ['repo', 'info', '--repo', other, '--json'])
    expect(saved.code).toBe(0)
    const env = { ...process.env, LIFEBOAT_REPO_PASSPHRASE: 'not it' }
    const refused = await runCli(path.join(dir, 'home'), ['repo', 'info', '--repo', other, '--json'], undefined, env)
    expect(refused.code).toBe(1)
    expect(JSON.parse(refused.stdout)).toMatchObject({ error: { code: 'WRONG_PASSPHRASE' } })
    const secrets = await readFile(path.join(dir, 'home', 'secrets.json'), 'utf8')
    expect(secrets).not.toContain('correct horse battery')
  })

  it('the CLI backs up with --json printing the restore point', async () => {
    const res = await runCli(path.join(dir, 'home'), ['backup-file', image, '--name', 'web01', '--json'])
    expect(res.code, res.stderr).toBe(0)
    expect(JSON.parse(res.stdout)).toMatchObject({ id: expect.any(String), vm: { name: 'web01' } })
  })
})
