import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { DirectWriter } from './direct-writer.js'
import { localBackend } from './local-backend.js'
import { withTempDir } from '../testing/fixtures.js'

const MiB = 1024 * 1024

describe('direct (unbuffered) writes of large objects', () => {
  it('writes objects of any length exactly, several at once, and leaves small ones to the page cache', async () => {
    await withTempDir('direct', async (dir) => {
      const writer = new DirectWriter()
      const objects = [4 * MiB + 40, 4 * MiB, 3 * MiB + 4097, MiB + 1, 300 * 1024, 4 * MiB + 28].map((n, i) => ({ file: path.join(dir, `o${i}`), parts: [randomBytes(12), randomBytes(n - 28), randomBytes(16)] }))
      const done = await Promise.all(objects.map((o) => writer.write(o.file, o.parts, o.parts.reduce((s, p) => s + p.length, 0))))
      for (const [i, o] of objects.entries()) {
        // Filesystems without O_DIRECT (tmpfs) answer false: the caller then writes normally.
        if (!done[i]) {
          expect(writer.enabled).toBe(false)
          expect(existsSync(o.file)).toBe(false)
          continue
        }
        expect((await readFile(o.file)).equals(Buffer.concat(o.parts))).toBe(true)
      }
      expect(await writer.write(path.join(dir, 'small'), [randomBytes(1000)], 1000)).toBe(false)
      expect(existsSync(path.join(dir, 'small'))).toBe(false)
    })
  })

  it('falls back to the page cache where the filesystem refuses O_DIRECT (tmpfs), through the local backend', async () => {
    if (!existsSync('/dev/shm')) return
    const dir = await mkdtemp('/dev/shm/lifeboat-direct-')
    try {
      const backend = localBackend({ path: dir })
      const big = randomBytes(2 * MiB + 5)
      await backend.put('chunks/ab/big', [big.subarray(0, 12), big.subarray(12)])
      await backend.put('chunks/ab/big2', big)
      await backend.flush()
      expect((await backend.get('chunks/ab/big', { maxBytes: 4 * MiB }))?.equals(big)).toBe(true)
      expect((await backend.get('chunks/ab/big2', { maxBytes: 4 * MiB }))?.equals(big)).toBe(true)
      expect(await readdir(path.join(dir, 'chunks', 'ab'))).toEqual(['big', 'big2'])
      expect((await stat(path.join(dir, 'chunks', 'ab', 'big'))).size).toBe(big.length)
      await backend.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
