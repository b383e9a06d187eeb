import { describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { readBoundedBody } from './s3-body.js'

const body = (data: Buffer, piece: number) => Readable.from((function* () {
  for (let at = 0; at < data.length; at += piece) yield data.subarray(at, at + piece)
})())

describe('reading an S3 answer body', () => {
  it('lands in the caller memory when it fits, and is whole either way', async () => {
    const data = randomBytes(100_000)
    const into = Buffer.alloc(120_000, 0xee)
    const fitted = await readBoundedBody({ Body: body(data, 7_000), ContentLength: data.length }, 'k', 200_000, into)
    expect(fitted.equals(data)).toBe(true)
    expect(fitted.buffer).toBe(into.buffer)
    // Too small for it: what came first and what came after are joined in order.
    const small = Buffer.alloc(50_000)
    const joined = await readBoundedBody({ Body: body(data, 7_000), ContentLength: data.length }, 'k', 200_000, small)
    expect(joined.equals(data)).toBe(true)
    expect(joined.buffer).not.toBe(small.buffer)
    expect((await readBoundedBody({ Body: body(data, 7_000) }, 'k', 200_000)).equals(data)).toBe(true)
  })

  it('refuses a body longer than allowed, declared or not', async () => {
    const data = randomBytes(10_000)
    await expect(readBoundedBody({ Body: body(data, 1_000), ContentLength: 10_000 }, 'k', 5_000, Buffer.alloc(20_000))).rejects.toMatchObject({ size: 10_000 })
    await expect(readBoundedBody({ Body: body(data, 1_000), ContentLength: 100 }, 'k', 5_000, Buffer.alloc(20_000))).rejects.toThrow()
  })
})
