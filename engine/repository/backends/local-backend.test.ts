import { describe, expect, it } from 'vitest'
import { readdir, stat, writeFile, mkdir } from 'node:fs/promises'
import path from 'node:path'
import { localBackend } from './local-backend.js'
import { withTempDir } from '../testing/fixtures.js'

describe('local folder backend', () => {
  it('puts atomically, lists, stats, deletes, and refuses keys that leave the folder', async () => {
    await withTempDir('local', async (dir) => {
      const backend = localBackend({ path: dir })
      await backend.put('chunks/ab/abc', Buffer.from('one'))
      await backend.put('chunks/ab/abc', Buffer.from('two'))
      await backend.flush()
      expect((await backend.get('chunks/ab/abc', { maxBytes: 10 }))?.toString()).toBe('two')
      expect(await readdir(path.join(dir, 'chunks', 'ab'))).toEqual(['abc'])
      await expect(backend.get('chunks/ab/abc', { maxBytes: 2 })).rejects.toThrow(/more than the 2 allowed/)
      expect(await backend.get('chunks/ab/none', { maxBytes: 10 })).toBeUndefined()
      const listed = []
      for await (const o of backend.list('')) listed.push(o.key)
      expect(listed).toEqual(['chunks/ab/abc'])
      expect((await backend.stat('chunks/ab/abc'))?.size).toBe(3)
      for (const bad of ['../x', 'a/../../x', '/etc/passwd', 'a//b', '.hidden', 'a/.tmp', 'a\\b', '']) {
        await expect(backend.get(bad, { maxBytes: 1 }), bad).rejects.toThrow(RangeError)
      }
      // A leftover temp file from a crash is visible to GC (it lists it like any object).
      await mkdir(path.join(dir, 'chunks', 'cd'), { recursive: true })
      await writeFile(path.join(dir, 'chunks', 'cd', 'x.tmp-123456'), 'partial')
      const keys = []
      for await (const o of backend.list('chunks/')) keys.push(o.key)
      expect(keys.sort()).toEqual(['chunks/ab/abc', 'chunks/cd/x.tmp-123456'])
      await backend.delete('chunks/ab/abc')
      await backend.delete('chunks/ab/abc')
      await backend.close()
      await expect(stat(path.join(dir, 'chunks', 'ab', 'abc'))).rejects.toThrow()
    })
  })
})
