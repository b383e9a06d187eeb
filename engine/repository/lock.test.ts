import { describe, expect, it } from 'vitest'
import { writeFile, mkdir, readdir } from 'node:fs/promises'
import path from 'node:path'
import { CHUNK_SIZE } from './format.js'
import { acquireLock } from './lock.js'
import { localBackend } from './backends/local-backend.js'
import { withTempDir, writeMixedImage } from './testing/fixtures.js'
import { backupFile, expectSameAsFile, newLocalRepo, reopenLocalRepo } from './testing/helpers.js'

describe('repository locks', () => {
  it('a second maintenance operation is refused clearly, or waits until the first is done', async () => {
    await withTempDir('lock-two', async (dir) => {
      const backend = localBackend({ path: dir })
      const first = await acquireLock({ backend, kind: 'maintenance', operation: 'prune' })
      const refused = acquireLock({ backend, kind: 'maintenance', operation: 'garbage collection', timeoutMs: 300 })
      await expect(refused).rejects.toMatchObject({ code: 'REPO_LOCKED', params: { operation: 'prune', holderPid: process.pid } })
      await expect(refused).rejects.toThrow(/busy: prune \(maintenance\) has held it since/)
      const waiting = acquireLock({ backend, kind: 'maintenance', operation: 'garbage collection', timeoutMs: 10_000 })
      setTimeout(() => void first.release(), 300)
      const second = await waiting
      expect(second.record.operation).toBe('garbage collection')
      // A backup may not start during maintenance...
      await expect(acquireLock({ backend, kind: 'ingest', operation: 'backup', timeoutMs: 200 })).rejects.toMatchObject({ code: 'REPO_LOCKED' })
      await second.release()
      // ...but backups run side by side, and maintenance may start while they run.
      const a = await acquireLock({ backend, kind: 'ingest', operation: 'backup a' })
      const b = await acquireLock({ backend, kind: 'ingest', operation: 'backup b' })
      const m = await acquireLock({ backend, kind: 'maintenance', operation: 'gc' })
      await expect(acquireLock({ backend, kind: 'exclusive', operation: 'repair', timeoutMs: 0 })).rejects.toMatchObject({ code: 'REPO_LOCKED' })
      await Promise.all([a.release(), b.release(), m.release()])
      expect(await readdir(path.join(dir, 'locks'))).toEqual([])
    })
  })

  it('a lock released between the listing and the read blocks nobody; an unreadable fresh one still does', async () => {
    await withTempDir('lock-vanish', async (dir) => {
      const inner = localBackend({ path: dir })
      const other = await acquireLock({ backend: inner, kind: 'exclusive', operation: 'repair' })
      // The other holder lets go exactly while this one reads the lock it has just listed.
      const racing = Object.assign(Object.create(inner) as typeof inner, {
        get: async (key: string, options: Parameters<typeof inner.get>[1]) => {
          if (key === `locks/${other.record.id}.json`) await other.release()
          return inner.get(key, options)
        },
      })
      const mine = await acquireLock({ backend: racing, kind: 'ingest', operation: 'backup', timeoutMs: 0 })
      await mine.release()
      await writeFile(path.join(dir, 'locks', 'ingest-garbled.json'), '{"kind": "ing')
      await expect(acquireLock({ backend: inner, kind: 'ingest', operation: 'backup', timeoutMs: 0 })).rejects.toMatchObject({
        code: 'REPO_LOCKED',
        params: { operation: 'an unknown operation' },
      })
    })
  })

  it('breaks stale locks: a dead process on this host at once, another host after its heartbeat stops', async () => {
    await withTempDir('lock-stale', async (dir) => {
      const backend = localBackend({ path: dir })
      await mkdir(path.join(dir, 'locks'))
      const now = Date.now()
      const dead = { id: 'maintenance-dead', kind: 'maintenance', host: 'this-host', pid: 2 ** 22 + 12345, operation: 'gc', startedAt: now, heartbeatAt: now }
      await writeFile(path.join(dir, 'locks', 'maintenance-dead.json'), JSON.stringify(dead))
      const l1 = await acquireLock({ backend, kind: 'maintenance', operation: 'prune', host: 'this-host' })
      await l1.release()
      const remote = { ...dead, id: 'maintenance-remote', host: 'other-host', pid: 1, heartbeatAt: now - 10_000 }
      await writeFile(path.join(dir, 'locks', 'maintenance-remote.json'), JSON.stringify(remote))
      await expect(acquireLock({ backend, kind: 'maintenance', operation: 'prune', host: 'this-host', staleAfterMs: 60_000 })).rejects.toMatchObject({
        code: 'REPO_LOCKED',
        params: { holderHost: 'other-host' },
      })
      const l2 = await acquireLock({ backend, kind: 'maintenance', operation: 'prune', host: 'this-host', staleAfterMs: 5_000 })
      await l2.release()
      // Garbage in the locks folder counts as a holder while fresh, and never crashes anything.
      await writeFile(path.join(dir, 'locks', 'junk.json'), '{"kind":')
      await expect(acquireLock({ backend, kind: 'ingest', operation: 'backup' })).rejects.toMatchObject({ code: 'REPO_LOCKED' })
    })
  })

  it('notices a lost lock before writing the restore point', async () => {
    await withTempDir('lock-lost', async (dir) => {
      const backend = localBackend({ path: dir })
      const held = await acquireLock({ backend, kind: 'ingest', operation: 'backup' })
      await backend.delete(`locks/${held.record.id}.json`)
      await expect(held.assertHeld()).rejects.toMatchObject({ code: 'LOCK_LOST' })
      await held.release()
    })
  })

  it('two backups into one repository at once both complete and restore', async () => {
    await withTempDir('two-writers', async (dir) => {
      const imgs = [path.join(dir, 'a.img'), path.join(dir, 'b.img')]
      await writeMixedImage(imgs[0]!, { blocks: 3, blockSize: CHUNK_SIZE, pattern: ['random', 'text'], seed: 1 })
      await writeMixedImage(imgs[1]!, { blocks: 3, blockSize: CHUNK_SIZE, pattern: ['text', 'random'], seed: 2 })
      const setup = await newLocalRepo(dir)
      await setup.close()
      const r1 = await reopenLocalRepo(dir)
      const r2 = await reopenLocalRepo(dir)
      const [p1, p2] = await Promise.all([backupFile(r1, imgs[0]!), backupFile(r2, imgs[1]!)])
      expect(await expectSameAsFile(await r1.openDisk(p2.id, 'disk0'), imgs[1]!)).toBe(true)
      expect(await expectSameAsFile(await r2.openDisk(p1.id, 'disk0'), imgs[0]!)).toBe(true)
      expect((await r1.verify()).ok).toBe(true)
      await Promise.all([r1.close(), r2.close()])
    })
  })
})
