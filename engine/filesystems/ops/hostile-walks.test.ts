import { createReadStream } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeTempDir } from '../../disks/testing/tools'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { syntheticVolume } from '../testing/synthetic-volume'
import { extractTo } from './extract'
import { tarStream } from './tar-stream'

/**
 * Walks over metadata that is all in memory (a cached image) used to run without ever reaching the event loop:
 * timers, I/O and SIGTERM starved until the walk ended, and a directory loop made it endless.
 */
let dir: string
beforeAll(async () => {
  dir = await makeTempDir('walks')
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function timed(fn: () => Promise<unknown>): Promise<{ elapsed: number; maxGap: number; ticks: number; error?: unknown }> {
  let last = performance.now()
  let maxGap = 0
  let ticks = 0
  const timer = setInterval(() => {
    const now = performance.now()
    maxGap = Math.max(maxGap, now - last)
    last = now
    ticks++
  }, 2)
  const start = performance.now()
  let error: unknown
  try {
    await fn()
  } catch (err) {
    error = err
  } finally {
    clearInterval(timer)
  }
  const end = performance.now()
  return { elapsed: end - start, maxGap: Math.max(maxGap, end - last), ticks, ...(error !== undefined ? { error } : {}) }
}

async function drain(it: AsyncIterable<unknown>): Promise<number> {
  let n = 0
  for await (const _ of it) n++
  return n
}

describe('long walks over cached metadata', () => {
  const wide = syntheticVolume({ fanout: 5, depth: 6 })

  it('search lets timers run throughout (no long stall)', async () => {
    const t = await timed(() => drain(wide.search('/', 'no-such-name', { maxVisited: 10_000_000, maxDepth: 100 })))
    expect(t.error).toBeUndefined()
    expect(t.elapsed).toBeGreaterThan(150)
    // Old code: one stall as long as the whole walk. Leave room for a loaded machine, not for that.
    expect(t.maxGap).toBeLessThan(Math.min(500, t.elapsed / 3))
  })

  it('tar lets timers run throughout (no long stall)', async () => {
    const t = await timed(() => drain(tarStream(wide, '/')))
    expect(t.error).toBeUndefined()
    expect(t.elapsed).toBeGreaterThan(150)
    // Old code: one stall as long as the whole walk. Leave room for a loaded machine, not for that.
    expect(t.maxGap).toBeLessThan(Math.min(500, t.elapsed / 3))
  })

  it('an AbortSignal stops search and tar promptly', async () => {
    for (const start of [(s: AbortSignal) => drain(wide.search('/', 'x', { signal: s, maxVisited: 10_000_000, maxDepth: 100 })), (s: AbortSignal) => drain(tarStream(wide, '/', { signal: s }))]) {
      const ac = new AbortController()
      setTimeout(() => ac.abort(), 30)
      const t = await timed(() => start(ac.signal))
      expect(t.error).toMatchObject({ name: 'AbortError' })
      expect(t.elapsed).toBeLessThan(2000)
    }
  })
})

describe('a folder that is its own ancestor (hard link to a parent)', () => {
  const looped = syntheticVolume({ fanout: 2, depth: 2, loop: true })

  it('tar ends, leaves the loop out and says so', async () => {
    const problems: string[] = []
    const t = await timed(() => drain(tarStream(looped, '/', { onProblem: (p) => problems.push(`${p.kind} ${p.path}`) })))
    expect(t.error).toBeUndefined()
    expect(t.maxGap).toBeLessThan(500)
    expect(problems).toContain('loop /loop')
    expect(problems).toContain('loop /d0/d1/loop')
  })

  it('a restore ends, copies each folder once and reports every loop', async () => {
    const out = join(dir, 'looped')
    const report = await extractTo(looped, '/', out, { platform: 'posix' })
    expect(report.directories).toBe(6)
    expect(report.files).toBe(7)
    expect(report.skipped.filter((s) => /one of its own parents/.test(s.reason)).map((s) => s.path).sort()).toEqual(['/d0/d0/loop', '/d0/d1/loop', '/d0/loop', '/d1/d0/loop', '/d1/d1/loop', '/d1/loop', '/loop'])
    const chunks: Buffer[] = []
    for await (const c of createReadStream(join(out, 'd1', 'd0', 'f.txt'))) chunks.push(c as Buffer)
    expect(Buffer.concat(chunks).toString()).toBe('abc')
  })

  it('search ends and reports the loops it did not enter', async () => {
    const problems: string[] = []
    const hits: string[] = []
    for await (const h of looped.search('/', 'f.txt', { onProblem: (p) => problems.push(p.path) })) hits.push(h.path)
    expect(hits).toHaveLength(7)
    expect(problems).toContain('/loop')
  })
})
