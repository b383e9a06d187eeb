import { describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { CHUNK_SIZE } from '../format.js'
import { textBlock } from '../testing/fixtures.js'
import { ChunkOps } from './chunk-ops.js'

const keys = { dataKey: randomBytes(32), idKey: randomBytes(32) }

describe('opening stored chunks', () => {
  for (const encrypted of [false, true]) {
    const ops = new ChunkOps({ compressionLevel: 3, ...(encrypted ? keys : {}) })
    const label = encrypted ? 'encrypted' : 'plain'

    it(`gives a stored (incompressible) chunk back in the object's own memory, not a copy (${label})`, () => {
      const data = randomBytes(CHUNK_SIZE)
      const id = ops.hash(data).id!
      const object = ops.seal(Buffer.from(data), id)
      const plain = ops.open(object, id, CHUNK_SIZE)
      expect(plain.equals(data)).toBe(true)
      expect(plain.buffer === object.buffer).toBe(true)
    })

    it(`opens compressed chunks byte for byte and refuses a damaged one (${label})`, () => {
      const data = textBlock(CHUNK_SIZE, 5)
      const id = ops.hash(data).id!
      const object = ops.seal(Buffer.from(data), id)
      expect(object.length).toBeLessThan(CHUNK_SIZE / 2)
      expect(ops.open(Buffer.from(object), id, CHUNK_SIZE).equals(data)).toBe(true)
      const damaged = Buffer.from(object)
      damaged[damaged.length - 40]! ^= 1
      expect(() => ops.open(damaged, id, CHUNK_SIZE)).toThrow(expect.objectContaining({ code: 'CORRUPT_CHUNK' }))
    })
  }

  it('leaves a manifest object as it was: callers send the same bytes on (a copy to another repository)', () => {
    const ops = new ChunkOps({ compressionLevel: 3, ...keys })
    const object = ops.sealManifest(Buffer.from('{"id":"p"}'.repeat(2000)), 'p')
    const before = Buffer.from(object)
    expect(ops.openManifest(object, 'p', 1024 * 1024).toString()).toBe('{"id":"p"}'.repeat(2000))
    expect(object.equals(before)).toBe(true)
  })
})
