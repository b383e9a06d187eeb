import { randomBytes } from 'node:crypto'
import { lstat, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import type * as FsPromises from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { makeTempDir } from '../../disks/testing/tools'
import type { FsDriver } from '../driver'
import { GenericVolume } from '../generic-volume'
import { createPacer } from '../pace'
import type { DataPiece, FsEntry, Volume } from '../types'
import { SourceReadError, writeSparseFile } from './sparse-writer'

/** Lets a test play a target filesystem without hard links (FAT, exFAT, some shares): link(2) fails with EPERM. */
const target = vi.hoisted(() => ({ noHardLinks: false }))
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof FsPromises>()
  const link: typeof real.link = async (existing, made) => {
    if (target.noHardLinks) throw Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' })
    await real.link(existing, made)
  }
  return { ...real, link }
})

const MiB = 1024 * 1024
const SIZE = 8 * MiB
const FIRST = randomBytes(MiB)
const SECOND = randomBytes(MiB)
/** The whole file: a hole, FIRST at 1 MiB, a hole, SECOND at 6 MiB, a hole to the end. */
const WHOLE = Buffer.alloc(SIZE)
FIRST.copy(WHOLE, MiB)
SECOND.copy(WHOLE, 6 * MiB)

/**
 * A one-file volume whose data comes in two pieces, with the disk "stuck" between them until the test says how it
 * goes on: the moment a hard stop (kill -9, a crash) would leave the target as it is.
 */
function stalledVolume() {
  let reached: () => void = () => undefined
  let release: (how: 'go' | Error) => void = () => undefined
  const midway = new Promise<void>((resolve) => (reached = resolve))
  const gate = new Promise<'go' | Error>((resolve) => (release = resolve))
  const state = { reads: 0 }
  const entry = (name: string, type: FsEntry['type'], size: number): FsEntry => ({ name, type, size, id: name, mode: 0o644, mtime: new Date(0) })
  const driver: FsDriver<string> = {
    info: { type: 'ext4', label: 'stalled', uuid: '', size: 0, blockSize: 4096, caseInsensitive: false, warnings: [] },
    root: () => Promise.resolve('/'),
    key: (n) => n,
    readDir: () => Promise.resolve([{ name: 'big.bin', node: 'big' }]),
    describe: (n, name) => Promise.resolve(n === '/' ? entry(name, 'directory', 0) : entry(name, 'file', SIZE)),
    readlink: () => Promise.reject(new Error('no links here')),
    read: async function* () {
      await Promise.resolve()
      yield Buffer.alloc(0)
    },
    readData: async function* (): AsyncIterable<DataPiece> {
      state.reads++
      yield { offset: MiB, data: FIRST }
      reached()
      const how = await gate
      if (how instanceof Error) throw how
      yield { offset: 6 * MiB, data: SECOND }
    },
    close: () => Promise.resolve(),
  }
  const volume: Volume = new GenericVolume(driver)
  return { volume, midway, release, state }
}

const budget = () => ({ left: 1024 * MiB, free: 1024 * MiB })

describe('the sparse writer never leaves a half file under the restored name', () => {
  let dir: string
  let n = 0
  /** A fresh, empty restore folder per case. */
  const folder = async (): Promise<string> => {
    const d = join(dir, `case-${++n}`)
    await mkdir(d)
    return d
  }
  beforeAll(async () => {
    dir = await makeTempDir('sparse-writer')
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('mid-write there is only a hidden part file; the name appears once the file is whole, with its holes kept', async () => {
    const d = await folder()
    const out = join(d, 'big.bin')
    const { volume, midway, release } = stalledVolume()
    const created: string[] = []
    const writing = writeSparseFile(volume, await volume.node('/big.bin'), out, { pacer: createPacer(), budget: budget(), onCreated: () => created.push('x') })
    try {
      await midway
      // What kill -9 here would leave: nothing under big.bin, one hidden part file holding what was written so far.
      await expect(lstat(out)).rejects.toMatchObject({ code: 'ENOENT' })
      const mid = await readdir(d)
      expect(mid).toHaveLength(1)
      expect(mid[0]).toMatch(/^\.big\.bin\.lifeboat-part-[0-9a-f]{12}$/)
      expect((await readFile(join(d, mid[0] ?? ''))).subarray(MiB, 2 * MiB).equals(FIRST)).toBe(true)
      expect(created).toHaveLength(1)
    } finally {
      release('go')
    }
    expect(await writing).toEqual({ written: 2 * MiB })
    expect(await readdir(d)).toEqual(['big.bin'])
    expect((await readFile(out)).equals(WHOLE)).toBe(true)
    const st = await stat(out)
    expect(st.mode & 0o777).toBe(0o600)
    expect(st.blocks * 512).toBeLessThan(3 * MiB)
  })

  it('a read that fails midway, or a cancel, leaves nothing at all', async () => {
    const d = await folder()
    const failing = stalledVolume()
    const failed = writeSparseFile(failing.volume, await failing.volume.node('/big.bin'), join(d, 'big.bin'), { pacer: createPacer(), budget: budget() })
    await failing.midway
    failing.release(new Error('block 1234 is outside the volume'))
    await expect(failed).rejects.toBeInstanceOf(SourceReadError)
    expect(await readdir(d)).toEqual([])

    const cancelled = stalledVolume()
    const ac = new AbortController()
    const stopped = writeSparseFile(cancelled.volume, await cancelled.volume.node('/big.bin'), join(d, 'big.bin'), { pacer: createPacer(), budget: budget(), signal: ac.signal })
    await cancelled.midway
    ac.abort()
    cancelled.release('go')
    await expect(stopped).rejects.toMatchObject({ name: 'AbortError' })
    expect(await readdir(d)).toEqual([])
  })

  it('never overwrites or follows what is already under the name, before reading anything', async () => {
    const d = await folder()
    await writeFile(join(d, 'big.bin'), 'mine')
    const { volume, state } = stalledVolume()
    await expect(writeSparseFile(volume, await volume.node('/big.bin'), join(d, 'big.bin'), { pacer: createPacer(), budget: budget() })).rejects.toMatchObject({ code: 'EEXIST' })
    expect(await readFile(join(d, 'big.bin'), 'utf8')).toBe('mine')
    const outside = join(dir, 'outside.bin')
    await symlink(outside, join(d, 'link.bin'))
    await expect(writeSparseFile(volume, await volume.node('/big.bin'), join(d, 'link.bin'), { pacer: createPacer(), budget: budget() })).rejects.toMatchObject({ code: 'EEXIST' })
    await expect(lstat(outside)).rejects.toMatchObject({ code: 'ENOENT' })
    expect(state.reads).toBe(0)
    expect((await readdir(d)).sort()).toEqual(['big.bin', 'link.bin'])
  })

  for (const noHardLinks of [false, true]) {
    it(`does not replace a file that appeared under the name while it was written${noHardLinks ? ' (target without hard links)' : ''}`, async () => {
      const d = await folder()
      const out = join(d, 'big.bin')
      const { volume, midway, release } = stalledVolume()
      target.noHardLinks = noHardLinks
      try {
        const writing = writeSparseFile(volume, await volume.node('/big.bin'), out, { pacer: createPacer(), budget: budget() })
        await midway
        await writeFile(out, 'theirs')
        release('go')
        await expect(writing).rejects.toMatchObject({ code: 'EEXIST', message: expect.stringContaining('was not overwritten') })
        expect(await readdir(d)).toEqual(['big.bin'])
        expect(await readFile(out, 'utf8')).toBe('theirs')
        if (!noHardLinks) return
        const again = stalledVolume()
        const second = writeSparseFile(again.volume, await again.volume.node('/big.bin'), join(d, 'other.bin'), { pacer: createPacer(), budget: budget() })
        again.release('go')
        await second
        expect((await readdir(d)).sort()).toEqual(['big.bin', 'other.bin'])
        expect((await readFile(join(d, 'other.bin'))).equals(WHOLE)).toBe(true)
      } finally {
        target.noHardLinks = false
      }
    })
  }

  it('a name of 255 bytes still gets a part file that fits', async () => {
    const d = await folder()
    const name = `${'é'.repeat(125)}x.bin`
    expect(Buffer.byteLength(name)).toBe(255)
    const { volume, midway, release } = stalledVolume()
    const writing = writeSparseFile(volume, await volume.node('/big.bin'), join(d, name), { pacer: createPacer(), budget: budget() })
    await midway
    const [part = ''] = await readdir(d)
    expect(part.startsWith(`.${'é'.repeat(10)}`) && part.includes('.lifeboat-part-')).toBe(true)
    release('go')
    await writing
    expect(await readdir(d)).toEqual([name])
  })
})
