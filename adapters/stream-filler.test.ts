import { randomBytes } from 'node:crypto'
import { PassThrough, Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { StreamFiller } from './stream-filler'

const ended = (position: number): Error => new Error(`ended after ${position}`)

describe('StreamFiller', () => {
  it('fills overlapping buffers in order from pieces of any size, copying each piece once', async () => {
    const data = randomBytes(1_000_003)
    const pieces: Buffer[] = []
    for (let at = 0; at < data.length; ) {
      const n = 1 + ((at * 7919) % 70_000)
      pieces.push(data.subarray(at, at + n))
      at += n
    }
    const filler = new StreamFiller(Readable.from(pieces), { ended })
    const targets = [Buffer.alloc(300_000), Buffer.alloc(300_000), Buffer.alloc(400_003)]
    await Promise.all(targets.map((t) => filler.fill(t)))
    expect(Buffer.concat(targets).equals(data)).toBe(true)
    expect(filler.position).toBe(data.length)
    expect(await filler.extraBytes()).toBe(0)
  })

  it('reads only while a buffer waits, and keeps the rest of a piece for the next one', async () => {
    const stream = new PassThrough({ highWaterMark: 16 })
    const filler = new StreamFiller(stream, { ended })
    stream.write(Buffer.from('abcdef'))
    const first = Buffer.alloc(4)
    await filler.fill(first)
    expect(first.toString()).toBe('abcd')
    // Nobody waits: what the stream gets next stays in it, and its writer is held back by its own flow control.
    expect(stream.write(Buffer.alloc(64))).toBe(false)
    expect(stream.readableLength).toBe(64)
    const skip = Buffer.alloc(2 + 64)
    await filler.fill(skip)
    expect(skip.subarray(0, 2).toString()).toBe('ef')
    stream.end(Buffer.from('gh'))
    const second = Buffer.alloc(2)
    await filler.fill(second)
    expect(second.toString()).toBe('gh')
    expect(await filler.extraBytes()).toBe(0)
  })

  it('fails waiting and later fills when the stream ends short, and counts bytes past the end', async () => {
    const short = new StreamFiller(Readable.from([Buffer.alloc(10)]), { ended })
    await expect(short.fill(Buffer.alloc(20))).rejects.toThrow('ended after 10')
    await expect(short.fill(Buffer.alloc(1))).rejects.toThrow('ended after 10')

    const long = new StreamFiller(Readable.from([Buffer.alloc(10), Buffer.alloc(5)]), { ended })
    await long.fill(Buffer.alloc(8))
    expect(await long.extraBytes()).toBe(7)
  })

  it('reports a broken stream in the caller’s words', async () => {
    const stream = new PassThrough()
    const filler = new StreamFiller(stream, { ended, broken: (e) => new Error(`broke: ${(e as Error).message}`) })
    const pending = filler.fill(Buffer.alloc(10))
    stream.destroy(new Error('reset'))
    await expect(pending).rejects.toThrow('broke: reset')
  })
})
