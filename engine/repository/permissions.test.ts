import { lstat, readdir } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { CHUNK_SIZE } from './format.js'
import { MiB, withTempDir, writeMixedImage } from './testing/fixtures.js'
import { backupFile, newLocalRepo } from './testing/helpers.js'

/** Every folder and file at or below `root`, with its permission bits. */
async function modes(root: string): Promise<{ path: string; kind: 'dir' | 'file'; mode: number }[]> {
  const found: { path: string; kind: 'dir' | 'file'; mode: number }[] = []
  const visit = async (p: string): Promise<void> => {
    const s = await lstat(p)
    found.push({ path: p, kind: s.isDirectory() ? 'dir' : 'file', mode: s.mode & 0o777 })
    if (s.isDirectory()) for (const name of await readdir(p)) await visit(path.join(p, name))
  }
  await visit(root)
  return found
}

describe('local repository permissions', () => {
  it.each(['022', '002', '000'])('keeps group and other users out of everything init and a backup create (umask %s)', async (umask) => {
    const previous = process.umask(parseInt(umask, 8))
    try {
      await withTempDir('repo-perm', async (dir) => {
        const img = path.join(dir, 'disk.img')
        await writeMixedImage(img, { blocks: 3, blockSize: CHUNK_SIZE, pattern: ['random', 'text', 'zero'], tail: MiB + 512 })
        for (const passphrase of [undefined, 'correct horse']) {
          const sub = path.join(dir, passphrase === undefined ? 'plain' : 'encrypted')
          const repo = await newLocalRepo(sub, passphrase === undefined ? {} : { passphrase })
          try {
            await backupFile(repo, img)
          } finally {
            await repo.close()
          }
          const entries = await modes(path.join(sub, 'repo'))
          expect(entries.filter((e) => e.kind === 'file').length).toBeGreaterThan(3)
          expect(entries.filter((e) => e.kind === 'dir').length).toBeGreaterThan(2)
          const open = entries.filter((e) => (e.mode & 0o077) !== 0).map((e) => `${e.mode.toString(8)} ${path.relative(dir, e.path)}`)
          expect(open).toEqual([])
          for (const e of entries) expect(e.mode, e.path).toBe(e.kind === 'dir' ? 0o700 : 0o600)
        }
      })
    } finally {
      process.umask(previous)
    }
  })
})
