import { createHash, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../../e2e/support/cli'
import type { JobDto } from '../api/contract-jobs'
import { dispatch } from '../api/dispatch'
import { run } from '../disks/testing/tools'
import { createEngine, type Engine } from '../engine'

const ctx = { signal: new AbortController().signal }

/** A qcow2 disk with a GPT, an empty first partition and an ext4 "data" partition made by mkfs.ext4 -d. */
async function makeDisk(dir: string): Promise<{ disk: string; blob: Buffer }> {
  const src = path.join(dir, 'src')
  await mkdir(path.join(src, 'docs/deep'), { recursive: true })
  await writeFile(path.join(src, 'docs/readme.txt'), 'hello world\n')
  const blob = randomBytes(3_000_000)
  await writeFile(path.join(src, 'docs/deep/blob.bin'), blob)
  for (let i = 0; i < 150; i++) await writeFile(path.join(src, 'docs', `note-${i}.txt`), `note ${i}\n`)
  await symlink('readme.txt', path.join(src, 'docs/link'))
  const fs = path.join(dir, 'fs.img')
  await run('mkfs.ext4', ['-q', '-d', src, '-L', 'data', fs, '64M'])
  const raw = path.join(dir, 'disk.raw')
  await run('truncate', ['-s', '200M', raw])
  await run('sfdisk', ['-q', raw], { input: 'label: gpt\nstart=2048, size=130000, name=boot\nstart=133120, size=131072, type=linux\n' })
  await run('dd', [`if=${fs}`, `of=${raw}`, 'bs=512', 'seek=133120', 'conv=notrunc', 'status=none'])
  const disk = path.join(dir, 'disk.qcow2')
  await run('qemu-img', ['convert', '-O', 'qcow2', '-c', raw, disk])
  return { disk, blob }
}

describe('browsing disk images through the contract', () => {
  let engine: Engine
  let dir: string
  let disk: string
  let blob: Buffer
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lb-browse-'))
    ;({ disk, blob } = await makeDisk(dir))
    engine = await createEngine({ home: path.join(dir, 'home'), door: 'cli' })
  })
  afterAll(async () => engine.dispose())

  const source = () => ({ kind: 'image' as const, paths: [disk] })

  it('probes the disk tree', async () => {
    const res = await dispatch(engine.handlers, 'files.probe', { source: source() }, ctx)
    expect(res).toMatchObject({ ok: true, value: { disks: [{ format: 'qcow2', table: 'gpt' }] } })
    const volumes = res.ok ? (res.value as { volumes: { locator: string; filesystem?: { type: string; label: string } }[] }).volumes : []
    expect(volumes.find((v) => v.locator === 'p2')?.filesystem).toMatchObject({ type: 'ext4', label: 'data' })
  })

  it('lists folders first, pages large folders, stats and searches', async () => {
    const page = await dispatch(engine.handlers, 'files.list', { source: source(), volume: 'data', path: '/docs', offset: 0, limit: 5 }, ctx)
    expect(page).toMatchObject({ ok: true, value: { total: 153 } })
    const names = page.ok ? (page.value as { entries: { name: string }[] }).entries.map((e) => e.name) : []
    expect(names).toEqual(['deep', 'link', 'note-0.txt', 'note-1.txt', 'note-2.txt'])
    expect(await dispatch(engine.handlers, 'files.stat', { source: source(), volume: 'p2', path: '/docs/link' }, ctx)).toMatchObject({ ok: true, value: { type: 'symlink', symlinkTarget: 'readme.txt' } })
    const found = await dispatch(engine.handlers, 'files.search', { source: source(), volume: 'p2', root: '/', pattern: 'note-1*.txt', limit: 5 }, ctx)
    expect(found).toMatchObject({ ok: true, value: { truncated: true } })
    expect(await dispatch(engine.handlers, 'files.list', { source: source(), volume: 'p2', path: '/nope' }, ctx)).toMatchObject({ ok: false, error: { code: 'PATH_NOT_FOUND' } })
    expect(await dispatch(engine.handlers, 'files.list', { source: source(), volume: 'p9', path: '/' }, ctx)).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
    expect(await dispatch(engine.handlers, 'files.probe', { source: { kind: 'image', paths: ['relative.img'] } }, ctx)).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
  })

  it('restores a folder as a job with progress, byte-identical', async () => {
    const updates: JobDto[] = []
    const off = engine.events.on('job.updated', (j) => updates.push(j))
    const to = path.join(dir, 'restored')
    const res = await dispatch(engine.handlers, 'files.restore', { source: source(), volume: 'p2', paths: ['/docs'], toDirectory: to }, ctx)
    expect(res.ok).toBe(true)
    const jobId = res.ok ? (res.value as { jobId: string }).jobId : ''
    await expect.poll(async () => (await engine.jobs.get(jobId)).state, { timeout: 30_000 }).toBe('succeeded')
    off()
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')
    expect(sha(await readFile(path.join(to, 'docs/deep/blob.bin')))).toBe(sha(blob))
    expect(await readFile(path.join(to, 'docs/readme.txt'), 'utf8')).toBe('hello world\n')
    const last = updates.filter((u) => u.id === jobId).at(-1)
    const notes = Array.from({ length: 150 }, (_, i) => `note ${i}\n`.length).reduce((a, b) => a + b, 0)
    expect(last?.progress).toMatchObject({ phase: 'done', bytesTotal: 3_000_000 + 12 + notes, bytesDone: 3_000_000 + 12 + notes })
    expect(updates.some((u) => u.id === jobId && u.progress.phase === 'restoring')).toBe(true)
  })

  it('browses a restore point of the disk the same way, from the repository', async () => {
    const backup = await dispatch(engine.handlers, 'backup.file', { image: disk, vmName: 'vm1' }, ctx)
    const jobId = backup.ok ? (backup.value as { jobId: string }).jobId : ''
    await expect.poll(async () => (await engine.jobs.get(jobId)).state, { timeout: 30_000 }).toBe('succeeded')
    const pointId = ((await engine.jobs.get(jobId)).result as { id: string }).id
    const point = { kind: 'point' as const, pointId }
    expect(await dispatch(engine.handlers, 'files.probe', { source: point }, ctx)).toMatchObject({ ok: true, value: { disks: [{ format: 'raw', table: 'gpt' }] } })
    const list = await dispatch(engine.handlers, 'files.list', { source: point, volume: 'data', path: '/docs/deep' }, ctx)
    expect(list).toMatchObject({ ok: true, value: { entries: [{ name: 'blob.bin', size: 3_000_000 }] } })
    const chunks: Buffer[] = []
    for await (const c of engine.browse.readFile({ ...point, disks: ['disk0'] }, 'p2', '/docs/deep/blob.bin')) chunks.push(c)
    expect(Buffer.concat(chunks).equals(blob)).toBe(true)
    const cli = await runCli(path.join(dir, 'home'), ['files', 'cat', `${pointId.slice(0, 20)}#disk0#p2`, '/docs/readme.txt'])
    expect(cli.stdout).toBe('hello world\n')
    expect(await dispatch(engine.handlers, 'files.probe', { source: { kind: 'point', pointId: 'nope' } }, ctx)).toMatchObject({ ok: false, error: { code: 'POINT_NOT_FOUND' } })
  })

  it('the CLI lists, cats and restores the same way', async () => {
    const home = path.join(dir, 'cli-home')
    const info = await runCli(home, ['image', 'info', disk, '--json'])
    expect(info.code, info.stderr).toBe(0)
    const ls = await runCli(home, ['image', 'ls', `${disk}#data`, '/docs/deep', '--json'])
    expect(JSON.parse(ls.stdout)).toMatchObject([{ name: 'blob.bin', type: 'file', size: 3_000_000 }])
    const cat = await runCli(home, ['image', 'cat', `${disk}#p2`, '/docs/readme.txt'])
    expect(cat.stdout).toBe('hello world\n')
    const missing = await runCli(home, ['image', 'cat', `${disk}#p2`, '/docs/missing.txt', '--json'])
    expect(missing.code).toBe(1)
    expect(JSON.parse(missing.stdout)).toMatchObject({ error: { code: 'PATH_NOT_FOUND' } })
    const get = await runCli(home, ['image', 'get', `${disk}#p2`, '/docs/readme.txt', '--to', path.join(dir, 'cli-out')])
    expect(get.code, get.stderr).toBe(0)
    expect(await readFile(path.join(dir, 'cli-out/readme.txt'), 'utf8')).toBe('hello world\n')
    const notDisk = await runCli(home, ['image', 'ls', '/etc/hostname'])
    expect(notDisk.code).toBe(1)
    expect(notDisk.stderr).not.toContain('unexpected')
  })
})
