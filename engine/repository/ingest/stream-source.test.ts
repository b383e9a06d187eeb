import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { StreamSource, type FillableStream } from './stream-source.js'

async function* pieces(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < data.length; at += size) {
    await Promise.resolve()
    yield data.subarray(at, at + size)
  }
}

describe('StreamSource', () => {
  it('reads an iterable front to back with overlapping reads, and checks it ends where declared', async () => {
    const data = randomBytes(100_000)
    const source = new StreamSource(pieces(data, 7_777), data.length, 'the stream')
    const a = Buffer.alloc(40_000)
    const b = Buffer.alloc(40_000)
    const [, , c] = await Promise.all([source.readInto(a, 0), source.readInto(b, 40_000), source.readMoving(Buffer.alloc(20_000), 80_000)])
    expect(Buffer.concat([a, b, c]).equals(data)).toBe(true)
  })

  it('fails when the stream is shorter or longer than declared, or a read is out of order', async () => {
    const data = randomBytes(1000)
    await expect(new StreamSource(pieces(data, 100), 1001, 'short').read(0, 1001)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('fewer') as unknown })
    await expect(new StreamSource(pieces(data, 100), 999, 'long').read(0, 999)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('more') as unknown })
    await expect(new StreamSource(pieces(data, 100), 0, 'empty').expectEmpty()).rejects.toMatchObject({ message: expect.stringContaining('more') as unknown })
    const source = new StreamSource(pieces(data, 100), 1000, 'ordered')
    await expect(source.read(500, 10)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('in order') as unknown })
  })

  it('hands reads to a stream that fills buffers itself, and closes it', async () => {
    const calls: string[] = []
    const stream: FillableStream = {
      [Symbol.asyncIterator]: () => pieces(Buffer.alloc(0), 1),
      readInto(target) {
        calls.push(`into ${target.length}`)
        target.fill(1)
        return Promise.resolve()
      },
      readMoving(target) {
        calls.push(`moving ${target.length}`)
        return Promise.resolve(Buffer.alloc(target.length, 2))
      },
      close() {
        calls.push('close')
      },
    }
    const source = new StreamSource(stream, 30, 'fillable')
    const a = Buffer.alloc(10)
    await source.readInto(a, 0)
    const b = await source.readMoving(Buffer.alloc(20), 10)
    await source.close()
    expect(a.equals(Buffer.alloc(10, 1))).toBe(true)
    expect(b.equals(Buffer.alloc(20, 2))).toBe(true)
    expect(calls).toEqual(['into 10', 'moving 20', 'close'])
  })
})
