import { describe, expect, it } from 'vitest'
import { access, readFile, readdir } from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { withTempDir } from '../testing/fixtures.js'
import { partialName, writePieces, type Piece } from './pieces.js'

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
