import { describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { constants } from 'node:fs'
import { open, readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { seededBytes } from '../../disks/testing/tools.js'
import { withTempDir } from '../testing/fixtures.js'
import { PositionedOutput } from './direct-output.js'
import { HOLE_BLOCK, writePieces, type Piece } from './pieces.js'

const run = promisify(execFile)
const MiB = 1024 * 1024

/** Whether this folder's filesystem takes O_DIRECT (tmpfs does not) — the page-cache check means nothing otherwise. */
async function directWorks(dir: string): Promise<boolean> {
  if (typeof constants.O_DIRECT !== 'number') return false
  try {
    const probe = await open(path.join(dir, 'probe'), constants.O_WRONLY | constants.O_CREAT | constants.O_DIRECT)
    await probe.close()
    return true
  } catch {
    return false
  }
}

/** Bytes of `file` in the page cache, from util-linux `fincore`; undefined without it. */
async function cachedBytes(file: string): Promise<number | undefined> {
  try {
    const { stdout } = await run('fincore', ['--bytes', '--noheadings', '--output', 'RES', file])
    return Number(stdout.trim())
  } catch {
    return undefined
  }
}

describe('an export file', () => {
  it('is written around the page cache, byte for byte, with its zero blocks and zero runs left as holes', async () => {
    await withTempDir('direct-output', async (dir) => {
      const direct = await directWorks(dir)
      const before = await cachedBytes(path.join(dir, 'probe'))
      // Mixed content at a size that is not a multiple of 4 KiB: data, a zero block inside data, a zero run, an unaligned tail.
      const chunk = seededBytes(4 * MiB, 7)
      chunk.fill(0, HOLE_BLOCK, 3 * HOLE_BLOCK)
      const tail = seededBytes(MiB + 1000, 8)
      const pieces: Piece[] = [
        { kind: 'data', data: Buffer.from(chunk) },
        { kind: 'zeros', length: 8 * MiB },
        { kind: 'data', data: Buffer.from(tail) },
      ]
      const stream = async function* (): AsyncGenerator<Piece> {
        yield* pieces
        await Promise.resolve()
      }
      const output = path.join(dir, 'disk.raw')
      expect(await writePieces(stream(), output)).toBe(13 * MiB + 1000)
      const written = await readFile(output)
      expect(written.equals(Buffer.concat([chunk, Buffer.alloc(8 * MiB), tail]))).toBe(true)
      const allocated = (await stat(output)).blocks * 512
      expect(allocated).toBeLessThanOrEqual(4 * MiB - 2 * HOLE_BLOCK + MiB + 8192)
      if (!direct || before === undefined) return
      const cached = await cachedBytes(output)
      // readFile above brought it all back in: look at a fresh export instead.
      const again = path.join(dir, 'again.raw')
      await writePieces(stream(), again)
      const fresh = await cachedBytes(again)
      expect(cached).toBeGreaterThan(0)
      // Only the unaligned tail (< 4 KiB) went through the cache; before, all 5 MiB of data did.
      expect(fresh).toBeLessThanOrEqual(8192)
    })
  })

  it('writes aligned ranges several at a time, in any order, and sets the length at finish', async () => {
    await withTempDir('direct-output', async (dir) => {
      const file = path.join(dir, 'out.raw')
      const out = await PositionedOutput.create(file)
      const parts = Array.from({ length: 6 }, (_, i) => seededBytes(4 * MiB, 20 + i))
      // Out of order, as positioned writes may come.
      for (const i of [5, 0, 3, 1, 4, 2]) await out.write(parts[i]!, i * 4 * MiB)
      await out.finish(24 * MiB + 5)
      const back = await readFile(file)
      expect(back.length).toBe(24 * MiB + 5)
      expect(back.subarray(0, 24 * MiB).equals(Buffer.concat(parts))).toBe(true)
      expect(back.subarray(24 * MiB).equals(Buffer.alloc(5))).toBe(true)
    })
  })
})
