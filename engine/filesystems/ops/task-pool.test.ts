import { describe, expect, it } from 'vitest'
import { TaskPool } from './task-pool'

const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

describe('TaskPool (many small files written at once)', () => {
  it('never runs more than its limit, and drain waits for all', async () => {
    const pool = new TaskPool(3)
    let running = 0
    let most = 0
    let done = 0
    for (let i = 0; i < 10; i++) {
      await pool.add(async () => {
        most = Math.max(most, ++running)
        await tick(2)
        running--
        done++
      })
    }
    await pool.drain()
    expect(most).toBe(3)
    expect(done).toBe(10)
  })

  it('a failure surfaces at the next add or drain, and settle still waits for the tasks in flight (their cleanup)', async () => {
    const pool = new TaskPool(4)
    let cleaned = false
    await pool.add(async () => {
      await tick(20)
      cleaned = true
    })
    await pool.add(() => Promise.reject(new Error('disk full')))
    await tick(1)
    await expect(pool.add(() => Promise.resolve())).rejects.toThrow('disk full')
    await pool.settle()
    expect(cleaned).toBe(true)
    await expect(pool.drain()).rejects.toThrow('disk full')
  })
})
