import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { lstat, mkdir, readlink, rm, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FileSource } from '../../disks/file-source'
import { makeTempDir, run, runBuffer } from '../../disks/testing/tools'
import { openVolume } from '../open-volume'
import { makeExt } from '../testing/fixtures'
import { buildTree, describeTree, type TreeItem } from '../testing/tree'
import type { Volume } from '../types'
import { extractTo } from './extract'
import { safeName, symlinkStaysInside } from './safe-names'
import { tarStream } from './tar-stream'

let dir: string
let src: string
let truth: Map<string, TreeItem>
let file: FileSource
let volume: Volume

beforeAll(async () => {
  dir = await makeTempDir('ops')
  src = join(dir, 'src')
  await buildTree(src, { bigDirFiles: 200, depth: 8, largeBytes: 5 * 1024 * 1024, fragments: 50, symlinks: true, fatSafe: false })
  // Names a restore must not take literally (they are legal on ext4).
  await mkdir(join(src, 'evil'))
  for (const n of ['CON', 'nul.txt', 'a:stream', 'trailing. ', 'back\\slash', 'q?.txt']) await writeFile(join(src, 'evil', n), n)
  await symlink('../../../../etc/shadow', join(src, 'evil', 'escape'))
  await symlink('../hello.txt', join(src, 'evil', 'inside'))
  truth = await describeTree(src)
  const image = join(dir, 'ext.img')
  await makeExt(image, src, { sizeMiB: 200, kind: 'ext4' })
  file = await FileSource.open(image)
  volume = await openVolume(file)
})
afterAll(async () => {
  await volume.close()
  await file.close()
  await rm(dir, { recursive: true, force: true })
})

describe('restore to a folder', () => {
  it('restores a whole tree with contents, modes and times, and refuses links that escape', async () => {
    const out = join(dir, 'restore')
    const report = await extractTo(volume, '/', out, { platform: 'posix' })
    const restored = await describeTree(out)
    for (const [path, item] of truth) {
      if (path.startsWith('/lost+found')) continue
      const got = restored.get(path)
      if (item.type === 'symlink' && (item.target?.startsWith('/') || path.endsWith('escape'))) {
        expect(got, path).toBeUndefined()
        continue
      }
      expect(got, path).toBeDefined()
      expect({ path, type: got?.type, sha: got?.sha256, target: got?.target }).toEqual({ path, type: item.type, sha: item.sha256, target: item.target })
      if (item.type === 'file') expect({ path, mode: got?.mode, mtime: got?.mtimeSeconds }).toEqual({ path, mode: item.mode, mtime: item.mtimeSeconds })
    }
    expect(report.skipped.map((s) => s.path).sort()).toEqual(['/evil/escape', '/link-absolute', '/link-escape'])
    expect(report.skipped.find((s) => s.path === '/link-absolute')?.reason).toMatch(/outside the restore folder/)
    expect(await readlink(join(out, 'evil', 'inside'))).toBe('../hello.txt')
    // Restoring again never overwrites what is there.
    await expect(extractTo(volume, '/hello.txt', out, { platform: 'posix' })).rejects.toThrow(/EEXIST/)
  })

  it('makes Windows-hostile names safe and reports each change', async () => {
    const out = join(dir, 'restore-win')
    const report = await extractTo(volume, '/evil', out, { platform: 'windows' })
    const renamed = Object.fromEntries(report.renamed.map((r) => [r.path.split('/').pop(), r.to]))
    expect(renamed).toEqual({ CON: '_CON', 'nul.txt': '_nul.txt', 'a:stream': 'a_stream', 'trailing. ': 'trailing__', 'back\\slash': 'back_slash', 'q?.txt': 'q_.txt' })
    expect((await lstat(join(out, 'evil', '_CON'))).isFile()).toBe(true)
    expect(report.skipped.every((s) => /not restored on Windows/.test(s.reason))).toBe(true)
  })

  it('never lets a name escape the target', () => {
    expect(safeName('..')).toMatchObject({ ok: false })
    expect(safeName('a\0b')).toMatchObject({ ok: false })
    expect(safeName('x/../../etc', 'posix')).toEqual({ ok: true, name: 'x_.._.._etc', changed: true })
    expect(safeName('C:', 'windows')).toEqual({ ok: true, name: 'C_', changed: true })
    const long = safeName('é'.repeat(300) + '.txt', 'posix')
    expect(long.ok && Buffer.byteLength(long.name) <= 255 && long.name.endsWith('.txt')).toBe(true)
    expect(symlinkStaysInside('/r', '/r/a', '../b')).toBe(true)
    expect(symlinkStaysInside('/r', '/r/a', '../../b')).toBe(false)
    expect(symlinkStaysInside('/r', '/r', 'C:/Windows')).toBe(false)
  })
})

describe('search and cancellation', () => {
  it('finds names by glob within limits and stops reading when aborted', async () => {
    const hits: string[] = []
    for await (const h of volume.search('/', 'FILE-?.txt')) hits.push(h.path)
    expect(hits).toEqual([])
    for await (const h of volume.search('/deep', 'file-?.txt')) hits.push(h.path)
    expect(hits).toHaveLength(8)
    expect(hits.every((p) => /^\/deep\/(level-[0-9]\/)+file-[0-7]\.txt$/.test(p))).toBe(true)
    const limited: string[] = []
    for await (const h of volume.search('/many', /\.dat$/, { maxResults: 7 })) limited.push(h.path)
    expect(limited).toHaveLength(7)
    const ac = new AbortController()
    let chunks = 0
    await expect(
      (async () => {
        for await (const _ of volume.readFile('/large.bin', { signal: ac.signal })) {
          chunks++
          ac.abort()
        }
      })(),
    ).rejects.toMatchObject({ name: 'AbortError' })
    expect(chunks).toBe(1)
  })
})

describe('tar download', () => {
  it('produces a tar that GNU tar lists and unpacks to the same bytes', async () => {
    const tarPath = join(dir, 'out.tar')
    await pipeline(Readable.from(tarStream(volume, '/')), createWriteStream(tarPath))
    const listing = await run('tar', ['-tf', tarPath])
    expect(listing.split('\n')).toContain('日本語のファイル.txt')
    const out = join(dir, 'untar')
    await mkdir(out)
    await run('tar', ['-xf', tarPath, '-C', out])
    const unpacked = await describeTree(out)
    for (const [path, item] of truth) {
      if (item.type !== 'file') continue
      expect({ path, sha: unpacked.get(path)?.sha256, mtime: unpacked.get(path)?.mtimeSeconds }).toEqual({ path, sha: item.sha256, mtime: item.mtimeSeconds })
    }
    expect(unpacked.get('/link-escape')?.target).toBe('../../outside')
    const one: Buffer[] = []
    for await (const b of tarStream(volume, '/deep/level-0/file-0.txt')) one.push(b)
    const sub = join(dir, 'one.tar')
    await writeFile(sub, Buffer.concat(one))
    expect((await run('tar', ['-tf', sub])).trim()).toBe('file-0.txt')
    expect(createHash('sha256').update(await runBuffer('tar', ['-xOf', sub])).digest('hex')).toBe(truth.get('/deep/level-0/file-0.txt')?.sha256)
  })
})
