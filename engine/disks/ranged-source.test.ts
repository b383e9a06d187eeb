import { describe, expect, it } from 'vitest'
import { RangedSource } from './ranged-source'
import { seededBytes } from './testing/tools'

/** A fake remote reader: fixed latency per request, counts requests and peak concurrency. */
function fakeRemote(data: Buffer, latencyMs: number) {
  const stats = { requests: 0, inFlight: 0, peak: 0 }
  const readRange = async (offset: number, length: number, signal: AbortSignal): Promise<Buffer> => {
    stats.requests++
    stats.inFlight++
    stats.peak = Math.max(stats.peak, stats.inFlight)
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, latencyMs)
        signal.addEventListener('abort', () => {
          clearTimeout(t)
          reject(new Error('aborted'))
        })
      })
      return Buffer.from(data.subarray(offset, offset + length))
    } finally {
      stats.inFlight--
    }
  }
  return { stats, readRange }
}

describe('RangedSource', () => {
  const data = seededBytes(8 * 1024 * 1024 + 123, 5)

  it('returns exact bytes, overlaps requests and caches blocks', async () => {
    const remote = fakeRemote(data, 20)
    const src = new RangedSource({ size: data.length, label: 'fake', readRange: remote.readRange, blockSize: 64 * 1024, maxInFlight: 8 })
    const all = await src.read(0, data.length)
    expect(all.equals(data)).toBe(true)
    // Eight requests were in flight at once (never more): the reads overlap instead of queueing one by one.
    expect(remote.stats.peak).toBe(8)
    const before = remote.stats.requests
    const tail = await src.read(data.length - 1000, 1000)
    expect(tail.equals(data.subarray(data.length - 1000))).toBe(true)
    expect(remote.stats.requests).toBe(before)
    await src.close()
  })

  it('shares one request between concurrent readers of a block and honours abort', async () => {
    const remote = fakeRemote(data, 30)
    const src = new RangedSource({ size: data.length, label: 'fake', readRange: remote.readRange, blockSize: 64 * 1024 })
    const [a, b] = await Promise.all([src.read(100, 10), src.read(200, 10)])
    expect(a.equals(data.subarray(100, 110)) && b.equals(data.subarray(200, 210))).toBe(true)
    expect(remote.stats.requests).toBe(1)
    const ac = new AbortController()
    const p = src.read(1024 * 1024, 10, ac.signal)
    ac.abort()
    await expect(p).rejects.toThrow()
    await expect(src.read(data.length, 1)).rejects.toThrow(RangeError)
    await src.close()
  })
})
