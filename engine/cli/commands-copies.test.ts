import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CHUNK_SIZE } from '../repository'
import { writeMixedImage } from '../repository/testing/fixtures'
import { chunkFiles, flipBit } from '../repository/testing/tamper'
import { startReceiver } from '../notify/testing/http-receiver'
import { lifeboat } from './testing/run-lifeboat'

describe('lifeboat points copy and repo verify --repair-from', { timeout: 180_000 }, () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lifeboat-cli-copies-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('copies a point into an empty folder, restores from the copy, counts the copies and repairs the source from it', async () => {
    const home = path.join(dir, 'home')
    const repo = path.join(dir, 'repo')
    const copy = path.join(dir, 'copy')
    const image = path.join(dir, 'disk.img')
    await writeMixedImage(image, { blocks: 3, blockSize: CHUNK_SIZE, pattern: ['random', 'text'], seed: 9 })
    expect((await lifeboat(home, ['repo', 'init', '--repo', repo, '--passphrase-stdin'], 'a good long passphrase\n')).code).toBe(0)
    const backup = await lifeboat(home, ['backup-file', image, '--name', 'web01', '--repo', repo, '--json'])
    expect(backup.code).toBe(0)
    const pointId = (JSON.parse(backup.stdout) as { id: string }).id

    const copied = await lifeboat(home, ['points', 'copy', pointId, '--to', copy, '--repo', repo, '--json'])
    expect(copied.code, copied.stderr).toBe(0)
    expect(JSON.parse(copied.stdout)).toMatchObject({ pointId, target: copy, targetCreated: true, alreadyThere: false, chunksSent: 3, chunksVerified: 3 })
    const again = await lifeboat(home, ['points', 'copy', pointId.slice(0, 12), '--to', copy, '--repo', repo])
    expect(again.stdout).toContain('already in')

    // The copy opens with the passphrase saved for the source: restoring from it needs nothing more.
    const listed = await lifeboat(home, ['points', 'list', '--repo', copy, '--json'])
    expect(listed.code, listed.stderr).toBe(0)
    expect((JSON.parse(listed.stdout) as { id: string }[]).map((p) => p.id)).toEqual([pointId])

    const counted = await lifeboat(home, ['points', 'copies', '--repo', repo, '--json'])
    expect(JSON.parse(counted.stdout)).toEqual([
      {
        vmId: expect.any(String),
        vmName: 'web01',
        pointId,
        copies: 2,
        offMachine: 0,
        places: [
          { location: repo, offMachine: false, primary: true },
          { location: copy, offMachine: false, primary: false, copiedAt: expect.any(String) },
        ],
      },
    ])
    expect((await lifeboat(home, ['points', 'copies', '--repo', repo])).stdout).toContain('web01: 2 copies · 0 off this machine')

    await using receiver = await startReceiver()
    expect((await lifeboat(home, ['notify', 'add-webhook', '--kind', 'json', '--url-stdin'], `${receiver.base}/hook\n`)).code).toBe(0)
    const [victim] = await chunkFiles(repo)
    await flipBit(victim!, -9)
    expect((await lifeboat(home, ['repo', 'verify', '--repo', repo])).code).toBe(1)
    // Verify found damage: the admin hears of it, with the repository and the point named.
    const alert = JSON.parse(receiver.received.at(-1)?.body ?? '{}') as { event: string; text: string }
    expect(alert.event).toBe('verify-damage')
    expect(alert.text).toContain(pointId)
    const repaired = await lifeboat(home, ['repo', 'verify', '--repo', repo, '--repair-from', copy])
    expect(repaired.code, repaired.stderr).toBe(0)
    expect(repaired.stdout).toContain('Repaired from the copy: 1 chunk(s), 0 manifest(s).')
    expect((await lifeboat(home, ['repo', 'verify', '--repo', repo])).code).toBe(0)

    // A point the copy never received cannot be mended from it: named, exit 1.
    const later = await lifeboat(home, ['backup-file', path.join(dir, 'disk.img'), '--name', 'db01', '--repo', repo, '--json'])
    expect(later.code).toBe(0)
    await writeMixedImage(image, { blocks: 1, blockSize: CHUNK_SIZE, pattern: ['random'], seed: 10 })
    const third = JSON.parse((await lifeboat(home, ['backup-file', image, '--name', 'db02', '--repo', repo, '--json'])).stdout) as { id: string }
    const files = await chunkFiles(repo)
    const before = new Set((await chunkFiles(copy)).map((f) => path.basename(f)))
    const fresh = files.find((f) => !before.has(path.basename(f)))!
    await flipBit(fresh, -9)
    const partial = await lifeboat(home, ['repo', 'verify', '--repo', repo, '--repair-from', copy])
    expect(partial.code).toBe(1)
    expect(partial.stdout).toContain(`cannot repair ${third.id}`)
  })
})
