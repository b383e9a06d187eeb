import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { PointCheckDto } from '../api/contract-checks'
import { PointChecks } from './point-checks'

const base: PointCheckDto = {
  pointId: 'p1',
  repositoryId: 'repo-a',
  jobId: '11111111-1111-4111-8111-111111111111',
  host: { id: 'h1', name: 'kvm1' },
  checkedAt: '2026-12-06T22:00:00.000Z',
  verdict: 'booted',
  summary: 'Booted — the guest agent answered after 8 s',
  reason: 'the guest agent answered after 8 s',
  timings: { restoreMs: 1000, bootMs: 8000, proofMs: 500, totalMs: 9600 },
}

describe('PointChecks', () => {
  let dir: string
  let store: PointChecks
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lb-checks-'))
    store = new PointChecks(path.join(dir, 'point-checks.json'), path.join(dir, 'checks'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('keeps the newest check per point and repository, and drops the screenshot of the one it replaces', async () => {
    const first = await store.saveScreenshot(base.jobId, 'png', Buffer.from('first'))
    await store.record({ ...base, screenshot: { path: first, format: 'png' } })
    await store.record({ ...base, repositoryId: 'repo-b', verdict: 'failed', summary: 'Failed — x', reason: 'x' })
    const jobId = '22222222-2222-4222-8222-222222222222'
    const second = await store.saveScreenshot(jobId, 'png', Buffer.from('second'))
    await store.record({ ...base, jobId, screenshot: { path: second, format: 'png' } })
    const a = await store.forRepository('repo-a')
    expect([...a.keys()]).toEqual(['p1'])
    expect(a.get('p1')?.jobId).toBe(jobId)
    expect(existsSync(first)).toBe(false)
    expect(await readFile(second, 'utf8')).toBe('second')
    expect((await store.forRepository('repo-b')).get('p1')?.verdict).toBe('failed')
  })

  it('never removes a file outside its screenshot folder, even when the state file names one', async () => {
    const outside = path.join(dir, 'precious.txt')
    await writeFile(outside, 'keep')
    await store.record({ ...base, screenshot: { path: outside, format: 'png' } })
    await store.record({ ...base, jobId: '33333333-3333-4333-8333-333333333333' })
    expect(await readFile(outside, 'utf8')).toBe('keep')
  })

  it('refuses a damaged state file without changing it', async () => {
    await writeFile(path.join(dir, 'point-checks.json'), '{"version":1,"checks":"no"}')
    await expect(store.forRepository('repo-a')).rejects.toThrow(/expected layout/)
    await expect(store.record(base)).rejects.toThrow(/expected layout/)
    expect(await readFile(path.join(dir, 'point-checks.json'), 'utf8')).toBe('{"version":1,"checks":"no"}')
  })

  it('serves the PNG screenshot of a point\'s newest check, but no file outside its folder, too large or not a PNG', async () => {
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('IHDR…')])
    const file = await store.saveScreenshot(base.jobId, 'png', png)
    await store.record({ ...base, screenshot: { path: file, format: 'png' } })
    expect(await store.screenshot('repo-a', 'p1', 1024)).toMatchObject({ data: png, mimeType: 'image/png' })
    expect(await store.screenshot('repo-b', 'p1', 1024)).toBeUndefined()
    expect(await store.screenshot('repo-a', 'p2', 1024)).toBeUndefined()
    await expect(store.screenshot('repo-a', 'p1', 8)).rejects.toThrow(/larger/)

    const outside = path.join(dir, 'secret.png')
    await writeFile(outside, png)
    await store.record({ ...base, jobId: '44444444-4444-4444-8444-444444444444', screenshot: { path: outside, format: 'png' } })
    expect(await store.screenshot('repo-a', 'p1', 1024)).toBeUndefined()

    const fake = await store.saveScreenshot('55555555-5555-4555-8555-555555555555', 'png', Buffer.from('<html>not a picture</html>'))
    await store.record({ ...base, jobId: '55555555-5555-4555-8555-555555555555', screenshot: { path: fake, format: 'png' } })
    await expect(store.screenshot('repo-a', 'p1', 1024)).rejects.toThrow(/not a PNG/)
  })
  it('serves a JPEG screenshot (XenServer) as image/jpeg when it starts with the JPEG signature; a PPM is kept but not served', async () => {
    const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from('JFIF…'), Buffer.from([0xff, 0xd9])])
    const file = await store.saveScreenshot(base.jobId, 'jpeg', jpeg)
    expect(path.basename(file)).toBe(`${base.jobId}.jpeg`)
    await store.record({ ...base, screenshot: { path: file, format: 'jpeg' } })
    expect(await store.screenshot('repo-a', 'p1', 1024)).toMatchObject({ data: jpeg, mimeType: 'image/jpeg' })

    const png = await store.saveScreenshot('66666666-6666-4666-8666-666666666666', 'jpeg', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
    await store.record({ ...base, jobId: '66666666-6666-4666-8666-666666666666', screenshot: { path: png, format: 'jpeg' } })
    await expect(store.screenshot('repo-a', 'p1', 1024)).rejects.toThrow(/not a JPEG file/)

    const ppm = await store.saveScreenshot('77777777-7777-4777-8777-777777777777', 'ppm', Buffer.from('P6\n1 1\n255\n\0\0\0'))
    await store.record({ ...base, jobId: '77777777-7777-4777-8777-777777777777', screenshot: { path: ppm, format: 'ppm' } })
    expect(path.extname(ppm)).toBe('.ppm')
    expect((await store.forRepository('repo-a')).get('p1')?.screenshot?.format).toBe('ppm')
    expect(await store.screenshot('repo-a', 'p1', 1024)).toBeUndefined()
  })

  it('loads a state file written before JPEG screenshots existed (PNG and PPM entries)', async () => {
    const older = [
      { ...base, screenshot: { path: path.join(dir, 'checks', `${base.jobId}.png`), format: 'png' } },
      { ...base, pointId: 'p2', jobId: '88888888-8888-4888-8888-888888888888', screenshot: { path: path.join(dir, 'checks', '88888888-8888-4888-8888-888888888888.ppm'), format: 'ppm' } },
    ]
    await writeFile(path.join(dir, 'point-checks.json'), JSON.stringify({ version: 1, checks: older }))
    const checks = await store.forRepository('repo-a')
    expect([...checks.values()].map((c) => c.screenshot?.format)).toEqual(['png', 'ppm'])
  })
})
