import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { call } from '../cli/cli-call'
import { BufferSource } from '../disks/buffer-source'
import { createEngine, type Engine } from '../engine'
import { statePaths } from '../state/paths'
import { PointChecks } from '../state/point-checks'

describe('points.checkScreenshot', () => {
  let home: string
  let engine: Engine
  beforeEach(async () => {
    home = await mkdtemp(path.join(tmpdir(), 'lb-check-shot-'))
    engine = await createEngine({ home, door: 'cli' })
  })
  afterEach(async () => {
    await engine.dispose()
    await rm(home, { recursive: true, force: true })
  })

  it("serves the PNG kept with a point's last check through the contract, and says when there is none", async () => {
    const repo = await engine.repositories.open({})
    const point = await repo.ingest({ vm: { id: 'web01', name: 'web01', config: null }, sourceHost: { name: 'kvm1' }, mode: 'cold', consistency: 'offline', disks: [{ name: 'disk0', source: new BufferSource(randomBytes(1 << 20), 'disk0') }] })
    const repositoryId = repo.info().id
    await repo.close()
    const paths = statePaths(home)
    const checks = new PointChecks(paths.pointChecks, paths.checkScreenshots)
    const jobId = '66666666-6666-4666-8666-666666666666'
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(64)])
    await checks.record({
      pointId: point.id,
      repositoryId,
      jobId,
      host: { id: 'h1', name: 'kvm1' },
      checkedAt: '2026-12-07T01:00:00.000Z',
      verdict: 'booted',
      summary: 'Booted — the guest agent answered after 9 s',
      reason: 'the guest agent answered after 9 s',
      timings: { restoreMs: 1, bootMs: 9000, proofMs: 1, totalMs: 9002 },
      screenshot: { path: await checks.saveScreenshot(jobId, 'png', png), format: 'png' },
    })
    const served = await call(engine.handlers, 'points.checkScreenshot', { point: point.id }, AbortSignal.timeout(30_000))
    expect(served).toMatchObject({ jobId, mimeType: 'image/png', checkedAt: '2026-12-07T01:00:00.000Z' })
    expect(Buffer.from(served.dataBase64, 'base64')).toEqual(png)
    await expect(call(engine.handlers, 'points.checkScreenshot', { point: 'no-such-point' }, AbortSignal.timeout(30_000))).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })
})
