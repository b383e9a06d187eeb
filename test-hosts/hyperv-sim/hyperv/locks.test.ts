import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FileLocks } from './locks'
import { WinFs } from './winfs'

describe('Hyper-V model: files held with FileShare None', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lb-hvmodel-locks-'))
    await mkdir(path.join(dir, 'C', 'ProgramData'), { recursive: true })
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('are locked however a path spells them until every holder lets go; other paths never are', () => {
    const locks = new FileLocks(new WinFs(dir))
    expect(locks.locked('C:\\ProgramData\\job.lock')).toBe(false)
    const first = locks.hold('C:\\ProgramData\\job.lock')
    const second = locks.hold('c:\\programdata\\JOB.LOCK')
    expect(locks.locked('C:\\PROGRAMDATA\\Job.lock')).toBe(true)
    expect(locks.locked('C:\\ProgramData\\other.lock')).toBe(false)
    expect(locks.locked('Q:\\no-such-drive')).toBe(false)
    first()
    first()
    expect(locks.locked('C:\\ProgramData\\job.lock')).toBe(true)
    second()
    expect(locks.locked('C:\\ProgramData\\job.lock')).toBe(false)
  })
})
