import { describe, expect, it } from 'vitest'
import type { BlockSource } from '../disks/block-source'
import { ChangedOverParent } from './changed-over-parent'

function source(data: Buffer, label: string, log: { offset: number; length: number }[], fail = false): BlockSource {
  return {
    size: data.length,
    label,
    read: async (offset, length) => {
      log.push({ offset, length })
      if (fail) throw new Error(`${label} cannot be read`)
      return Promise.resolve(Buffer.from(data.subarray(offset, offset + length)))
    },
    close: () => Promise.resolve(),
  }
}

describe('ChangedOverParent', () => {
  const size = 1024
  const parent = Buffer.alloc(size, 1)
  const current = Buffer.from(parent)
  current.fill(7, 100, 150)
  current.fill(8, 600, 610)

  it('reads only the changed ranges from the host and the rest from the previous point', async () => {
    const hostReads: { offset: number; length: number }[] = []
    const parentReads: { offset: number; length: number }[] = []
    const s = new ChangedOverParent(source(current, 'host', hostReads), source(parent, 'point', parentReads), [
      { offset: 600, length: 10 },
      { offset: 100, length: 30 },
      { offset: 120, length: 30 },
    ])
    expect((await s.read(0, size)).equals(current)).toBe(true)
    expect(hostReads).toEqual([
      { offset: 100, length: 50 },
      { offset: 600, length: 10 },
    ])
    expect(parentReads.reduce((n, r) => n + r.length, 0)).toBe(size - 60)
    hostReads.length = 0
    expect((await s.read(140, 500)).equals(current.subarray(140, 640))).toBe(true)
    expect(hostReads).toEqual([
      { offset: 140, length: 10 },
      { offset: 600, length: 10 },
    ])
  })

  it('asks the host for unchanged bytes when the previous point cannot be read', async () => {
    const hostReads: { offset: number; length: number }[] = []
    const s = new ChangedOverParent(source(current, 'host', hostReads), source(parent, 'point', [], true), [{ offset: 100, length: 50 }])
    expect((await s.read(0, 200)).equals(current.subarray(0, 200))).toBe(true)
    expect(hostReads.reduce((n, r) => n + r.length, 0)).toBe(200)
    await expect(s.read(1000, 100)).rejects.toThrow(RangeError)
  })
})
