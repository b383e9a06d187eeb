import { describe, expect, it } from 'vitest'
import { runLanes } from './lanes'

describe('runLanes', () => {
  it('after the first failure starts nothing new, tells the lanes in flight, and ends only when they have', async () => {
    const started: number[] = []
    const ended: number[] = []
    let inFlightSawAbort = false
    const run = runLanes(20, 3, async (i, signal) => {
      started.push(i)
      if (i === 1) {
        await new Promise((r) => setTimeout(r, 10))
        throw new Error('target cut')
      }
      // The others are slow writes: each waits until told (or 200 ms), as a request in flight would.
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200)
        signal.addEventListener('abort', () => {
          inFlightSawAbort = true
          clearTimeout(t)
          setTimeout(resolve, 30)
        })
      })
      ended.push(i)
    })
    await expect(run).rejects.toThrow('target cut')
    expect(started).toEqual([0, 1, 2])
    expect(ended.sort()).toEqual([0, 2])
    expect(inFlightSawAbort).toBe(true)
  })

  it('runs every index once with the caller’s signal passed through, and a cancel reaches the lanes', async () => {
    const seen: number[] = []
    await runLanes(7, 2, async (i) => {
      await new Promise((r) => setTimeout(r, 1))
      seen.push(i)
    })
    expect(seen.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6])
    const controller = new AbortController()
    const run = runLanes(5, 2, async (i, signal) => {
      if (i === 0) controller.abort(new Error('cancelled by the admin'))
      await new Promise((r) => setTimeout(r, 5))
      if (signal.aborted) throw signal.reason
    }, controller.signal)
    await expect(run).rejects.toThrow('cancelled by the admin')
    await runLanes(0, 4, () => Promise.reject(new Error('never called')))
  })
})
