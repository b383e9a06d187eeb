import { describe, expect, it } from 'vitest'
import { persistently, retrying } from './cleanup-retry'

describe('retrying a cleanup step', () => {
  it('tries until the step works, says each failure it will retry, and waits as asked', async () => {
    const seen: number[] = []
    const result = await retrying(
      (attempt) => (attempt < 3 ? Promise.reject(new Error(`busy ${attempt}`)) : Promise.resolve('done')),
      { times: 3, delayMs: () => 0, onRetry: (_err, failed) => seen.push(failed) },
    )
    expect(result).toBe('done')
    expect(seen).toEqual([1, 2])
  })

  it('throws the last error when the tries are used up, and stops early on an aborted signal', async () => {
    let tries = 0
    await expect(retrying(() => Promise.reject(new Error(`refused ${++tries}`)), { times: 2, delayMs: () => 0 })).rejects.toThrow('refused 2')
    const aborted = AbortSignal.abort()
    tries = 0
    await expect(retrying(() => Promise.reject(new Error(`refused ${++tries}`)), { times: 3, delayMs: () => 0, signal: aborted })).rejects.toThrow('refused 1')
  })

  it('persistently: three tries before the undo is reported', async () => {
    let tries = 0
    const undo = persistently(() => (++tries < 3 ? Promise.reject(new Error('OTHER_OPERATION_IN_PROGRESS')) : Promise.resolve()))
    await undo(AbortSignal.timeout(5000))
    expect(tries).toBe(3)
  })
})
