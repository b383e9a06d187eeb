import { describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { access, readFile, readdir, stat, truncate, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { MiB, withTempDir, writeMixedImage } from '../testing/fixtures.js'
import { backupFile, newLocalRepo } from '../testing/helpers.js'
import { CHUNK_SIZE } from '../format.js'
import { HOLE_BLOCK, inputFromDisk, nonZeroRuns, partialName, writePieces, type Piece } from './pieces.js'

const exists = (file: string) => access(file).then(() => true, () => false)

/** Pieces that stop after the first one until `release()`: the moment a kill -9 of an export would land. */
function pausedPieces(): { pieces: AsyncIterable<Piece>; paused: Promise<void>; release: () => void } {
  let release: () => void = () => undefined
  let onPaused: () => void = () => undefined
  const gate = new Promise<void>((resolve) => (release = resolve))
  const paused = new Promise<void>((resolve) => (onPaused = resolve))
  async function* pieces(): AsyncGenerator<Piece> {
    yield { kind: 'data', data: Buffer.from('first half ') }
    onPaused()
    await gate
    yield { kind: 'zeros', length: 5 }
    yield { kind: 'data', data: Buffer.from('second half') }
  }
  return { pieces: pieces(), paused, release }
}

describe('writePieces to a file', () => {
  it('never shows a half-written image under the asked name: it is renamed there only when whole', async () => {
    await withTempDir('pieces', async (dir) => {
      const output = path.join(dir, 'disk.raw')
      const { pieces, paused, release } = pausedPieces()
      const writing = writePieces(pieces, output)
      await paused
      // Half-way (where a killed export would stop) the asked name does not exist; the partial file is clearly named.
      expect(await exists(output)).toBe(false)
      expect(await exists(partialName(output))).toBe(true)
      release()
      expect(await writing).toBe(27)
      expect(await readFile(output)).toEqual(Buffer.concat([Buffer.from('first half '), Buffer.alloc(5), Buffer.from('second half')]))
      expect(await readdir(dir)).toEqual(['disk.raw'])
    })
  })

  it('replaces the partial file a killed export left, and leaves nothing when it fails itself', async () => {
    await withTempDir('pieces', async (dir) => {
      const output = path.join(dir, 'disk.raw')
      const { pieces, paused, release } = pausedPieces()
      const controller = new AbortController()
      const writing = writePieces(pieces, output, controller.signal)
      await paused
      controller.abort()
      release()
      await expect(writing).rejects.toThrow()
      expect(await readdir(dir)).toEqual([])
      const whole: Piece[] = [{ kind: 'data', data: Buffer.from('whole') }]
      expect(await writePieces(Readable.from(whole) as AsyncIterable<Piece>, output)).toBe(5)
      expect(await readdir(dir)).toEqual(['disk.raw'])
    })
  })
})

/** Whether files in `dir` can have holes (a truncated-up file allocates nothing); some file systems cannot. */
async function holesWork(dir: string): Promise<boolean> {
  const probe = path.join(dir, 'probe')
  await writeFile(probe, '')
  await truncate(probe, 1024 * 1024)
  return (await stat(probe)).blocks === 0
}

describe('zero blocks inside data', () => {
  it('finds the runs that hold data, block by block', () => {
    const buf = Buffer.alloc(6 * HOLE_BLOCK + 100)
    buf[HOLE_BLOCK + 5] = 1
    buf[2 * HOLE_BLOCK] = 1
    buf[5 * HOLE_BLOCK - 1] = 1
    expect(nonZeroRuns(buf)).toEqual([
      [HOLE_BLOCK, 3 * HOLE_BLOCK],
      [4 * HOLE_BLOCK, 5 * HOLE_BLOCK],
    ])
    buf[6 * HOLE_BLOCK + 99] = 7
    expect(nonZeroRuns(buf).at(-1)).toEqual([6 * HOLE_BLOCK, 6 * HOLE_BLOCK + 100])
    expect(nonZeroRuns(Buffer.alloc(3 * HOLE_BLOCK))).toEqual([])
  })

  it('leaves them as holes in a file output, and the file reads back byte for byte', async () => {
    await withTempDir('pieces', async (dir) => {
      if (!(await holesWork(dir))) return
      const MiB = 1024 * 1024
      // A 4 MiB chunk with 1 MiB of data in its middle (free space rarely lines up with chunks), then an all-zero tail.
      const chunk = Buffer.alloc(4 * MiB)
      randomBytes(MiB).copy(chunk, 1536 * 1024)
      const tail = Buffer.alloc(HOLE_BLOCK + 10)
      const output = path.join(dir, 'disk.raw')
      const pieces: Piece[] = [{ kind: 'data', data: chunk }, { kind: 'zeros', length: 4 * MiB }, { kind: 'data', data: tail }]
      expect(await writePieces(Readable.from(pieces) as AsyncIterable<Piece>, output)).toBe(8 * MiB + tail.length)
      // Buffer.equals: a deep toEqual of 8 MiB runs for minutes.
      expect((await readFile(output)).equals(Buffer.concat([chunk, Buffer.alloc(4 * MiB), tail]))).toBe(true)
      const allocated = (await stat(output)).blocks * 512
      expect(allocated).toBeGreaterThanOrEqual(MiB)
      expect(allocated).toBeLessThanOrEqual(MiB + 2 * HOLE_BLOCK)
    })
  })
})

describe('chunks given to a writer with recycling', () => {
  it('stay intact until the writer asks for the next one, however long it takes with them', async () => {
    await withTempDir('pieces-recycle', async (dir) => {
      const img = path.join(dir, 'disk.img')
      await writeMixedImage(img, { blocks: 12, blockSize: 2 * MiB, pattern: ['text', 'random', 'text'] })
      await using repo = await newLocalRepo(dir, { workers: 2 })
      const point = await backupFile(repo, img)
      const disk = await repo.openDisk(point.id, 'disk0', { cacheChunks: 1 })
      const original = await readFile(img)
      try {
        let index = 0
        for await (const chunk of inputFromDisk(disk, 4, true).chunks()) {
          // A slow writer: the read-ahead finishes meanwhile, into memory given back so far.
          await sleep(20)
          expect(chunk.equals(original.subarray(index * CHUNK_SIZE, (index + 1) * CHUNK_SIZE))).toBe(true)
          index++
        }
        expect(index).toBe(6)
      } finally {
        await disk.close()
      }
    })
  })
})
