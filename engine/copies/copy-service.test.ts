import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { Repositories } from '../repository-access/repositories'
import { nodeSecretStore } from '../state/secret-store'
import { CHUNK_SIZE } from '../repository'
import { writeMixedImage } from '../repository/testing/fixtures'
import { backupFile } from '../repository/testing/helpers'
import type { JobContext } from '../jobs/job-runner'
import { CopyRecords } from './copy-records'
import { CopyService } from './copy-service'

function jobContext(): JobContext & { lines: string[] } {
  const lines: string[] = []
  return {
    jobId: 'job-1',
    signal: new AbortController().signal,
    progress: () => undefined,
    log: (level, message) => lines.push(`${level}: ${message}`),
    step: () => () => undefined,
    leftBehind: () => undefined,
    lines,
  }
}

describe('copies made after a plan run', { timeout: 180_000 }, () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lifeboat-copy-service-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it("copies each new point, applies the copy's own retention there, and keeps the record the app counts", async () => {
    const repositories = new Repositories({ defaultPath: path.join(dir, 'repo'), secrets: nodeSecretStore(path.join(dir, 'secrets.json'), {}), env: {} })
    const service = new CopyService({ repositories, records: new CopyRecords(path.join(dir, 'copies.json')) })
    const copyDir = path.join(dir, 'copy')
    const plan = { copies: [{ to: copyDir, retention: { keepLast: 1 } }] }
    const image = path.join(dir, 'disk.img')
    const ids: string[] = []
    for (const seed of [1, 2]) {
      await writeMixedImage(image, { blocks: 2, blockSize: CHUNK_SIZE, pattern: ['random'], seed })
      const repo = await repositories.open()
      const point = await backupFile(repo, image)
      await repo.close()
      ids.push(point.id)
      const ctx = jobContext()
      expect(await service.copyForPlan(plan, [point.id], [point.vm.id], ctx)).toEqual([])
      expect(ctx.lines.join('\n')).toContain(`restore point ${point.id} copied and verified`)
    }
    // The primary keeps both; the copy's own rule (keep the last one) removed the older point there.
    const copy = await repositories.open({ location: copyDir })
    expect((await copy.listPoints()).map((p) => p.id)).toEqual([ids[1]])
    const summaryRepoId = copy.info().id
    await copy.close()
    const summary = await service.summary({})
    expect(summary).toHaveLength(1)
    expect(summary[0]).toMatchObject({ pointId: ids[1], copies: 2, offMachine: 0 })
    const records = await new CopyRecords(path.join(dir, 'copies.json')).forRepository(summaryRepoId)
    expect(records.map((r) => r.pointId)).toEqual([ids[1]])
  })

  it('the newest point is the one that finished last, also when several began in the same second (ids differ only by chance there)', async () => {
    const location = path.join(dir, 'same-second')
    const repositories = new Repositories({ defaultPath: location, secrets: nodeSecretStore(path.join(dir, 'secrets-2.json'), {}), env: {} })
    const service = new CopyService({ repositories, records: new CopyRecords(path.join(dir, 'copies-2.json')) })
    const image = path.join(dir, 'small.img')
    await writeMixedImage(image, { blocks: 1, blockSize: CHUNK_SIZE, pattern: ['random'], seed: 7 })
    const ids: string[] = []
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      for (let i = 1; i <= 6; i++) {
        vi.setSystemTime(new Date(`2026-12-07T12:00:00.${String(i * 100).padStart(3, '0')}Z`))
        const repo = await repositories.open()
        ids.push((await backupFile(repo, image)).id)
        await repo.close()
      }
    } finally {
      vi.useRealTimers()
    }
    expect(new Set(ids.map((id) => id.slice(0, 16)))).toEqual(new Set(['20261207T120000Z']))
    const summary = await service.summary({})
    expect(summary.map((s) => s.pointId)).toEqual([ids[5]])
  })

  it('a copy that fails is reported for the run, in plain words, and does not throw', async () => {
    const repositories = new Repositories({ defaultPath: path.join(dir, 'repo'), secrets: nodeSecretStore(path.join(dir, 'secrets.json'), {}), env: {} })
    const service = new CopyService({ repositories, records: new CopyRecords(path.join(dir, 'copies.json')) })
    const repo = await repositories.open()
    const [point] = await repo.listPoints()
    await repo.close()
    const other = path.join(dir, 'other')
    await repositories.init({ location: other })
    const ctx = jobContext()
    const failures = await service.copyForPlan({ copies: [{ to: other }] }, [point!.id], [point!.vm.id], ctx)
    expect(failures).toHaveLength(1)
    expect(failures[0]).toMatch(/holds another Lifeboat repository/)
  })
})
