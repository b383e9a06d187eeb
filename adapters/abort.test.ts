import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { isAbortError } from './abort'
import { AdapterError, throwIfAborted } from './host-adapter'

/** The error `run` throws or rejects with. */
async function caught(run: () => unknown): Promise<unknown> {
  try {
    await run()
  } catch (error) {
    return error
  }
  throw new Error('expected an error')
}

function aborted(): AbortSignal {
  const controller = new AbortController()
  controller.abort()
  return controller.signal
}

describe('isAbortError', () => {
  it('recognises every shape a cancel arrives in', async () => {
    const timedOut = AbortSignal.timeout(1)
    await sleep(20)
    const kinds: Record<string, unknown> = {
      'signal.throwIfAborted() after abort()': await caught(() => aborted().throwIfAborted()),
      'signal.throwIfAborted() after AbortSignal.timeout': await caught(() => timedOut.throwIfAborted()),
      "Node's timers/promises (code ABORT_ERR)": await caught(() => sleep(1000, undefined, { signal: aborted() })),
      'fetch with an aborted signal': await caught(() => fetch('http://127.0.0.1:9/', { signal: aborted() })),
      "an adapter's throwIfAborted (AdapterError CANCELLED)": await caught(() => throwIfAborted(aborted(), 'Reading the disk')),
      'a RepositoryError CANCELLED (shape; adapters cannot import the engine)': Object.assign(new Error('The operation was cancelled.'), { name: 'RepositoryError', code: 'CANCELLED' }),
    }
    expect((kinds["Node's timers/promises (code ABORT_ERR)"] as { code?: unknown }).code).toBe('ABORT_ERR')
    expect((kinds['signal.throwIfAborted() after AbortSignal.timeout'] as Error).name).toBe('TimeoutError')
    const unrecognised = Object.entries(kinds).filter(([, error]) => !isAbortError(error)).map(([kind]) => kind)
    expect(unrecognised).toEqual([])
  })

  it('does not take a failure for a cancel', () => {
    const failures: unknown[] = [
      new Error('connection reset'),
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
      new AdapterError('CONNECTION_TIMEOUT', 'The host did not answer in time.'),
      new AdapterError('COMMAND_FAILED', 'virsh failed.'),
      new RangeError('Read of 1 bytes at offset 9 is outside d (size 8 bytes)'),
      'AbortError',
      { name: 'AbortError' },
      undefined,
    ]
    expect(failures.filter((f) => isAbortError(f))).toEqual([])
  })
})
