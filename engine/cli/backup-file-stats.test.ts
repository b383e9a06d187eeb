import { randomBytes } from 'node:crypto'
import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hasTool } from '../disks/testing/tools'
import { lifeboat } from './testing/run-lifeboat'

const CHUNK = 4 * 1024 * 1024

describe.skipIf(!(await hasTool('qemu-img')))('lifeboat backup-file says what it read, skipped as holes and found as zeros', { timeout: 120_000 }, () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lifeboat-cli-stats-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('in the human line and in --json', async () => {
    // Chunk 0 random, chunk 1 zeros written as data, chunks 2–9 a hole (the file is only truncated longer).
    const image = path.join(dir, 'disk.raw')
    const fh = await open(image, 'w')
    await fh.write(randomBytes(CHUNK), 0, CHUNK, 0)
    await fh.write(Buffer.alloc(CHUNK), 0, CHUNK, CHUNK)
    await fh.truncate(10 * CHUNK)
    await fh.close()
    const home = path.join(dir, 'home')
    const repo = path.join(dir, 'repo')
    expect((await lifeboat(home, ['repo', 'init', '--repo', repo, '--passphrase-stdin'], 'a good long passphrase\n')).code).toBe(0)
    const json = await lifeboat(home, ['backup-file', image, '--repo', repo, '--json'])
    expect(json.code, json.stderr).toBe(0)
    expect((JSON.parse(json.stdout) as { stats: unknown }).stats).toMatchObject({ bytesRead: 2 * CHUNK, bytesHoles: 8 * CHUNK, bytesZero: CHUNK, chunksNew: 1 })
    const human = await lifeboat(home, ['backup-file', image, '--repo', repo])
    expect(human.code, human.stderr).toBe(0)
    expect(human.stdout).toMatch(/: 8(\.0)? MiB read, 32(\.0)? MiB skipped as holes, 4(\.0)? MiB found as zeros, 0 B new, 0 B stored\./)
  })
})
