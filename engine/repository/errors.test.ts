import { describe, expect, it } from 'vitest'
import { AdapterError } from '../../adapters/host-adapter'
import { RepositoryError, toRepositoryError } from './errors'

describe('toRepositoryError', () => {
  it('reports a cancel as CANCELLED whatever shape it arrives in, never as a storage failure', () => {
    const timedOut = Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' })
    const cancels: unknown[] = [
      new DOMException('This operation was aborted', 'AbortError'),
      timedOut,
      Object.assign(new Error('The operation was aborted'), { code: 'ABORT_ERR' }),
      // A disk read from a host whose job was cancelled.
      new AdapterError('CANCELLED', 'Reading web01:/dev/vg/root was cancelled.'),
    ]
    expect(cancels.map((c) => toRepositoryError(c, 'writing a backup').code)).toEqual(['CANCELLED', 'CANCELLED', 'CANCELLED', 'CANCELLED'])
  })

  it('keeps other failures what they are', () => {
    expect(toRepositoryError(Object.assign(new Error('no space'), { code: 'ENOSPC' }), 'writing a backup').code).toBe('NO_SPACE')
    expect(toRepositoryError(new AdapterError('CONNECTION_LOST', 'The connection to web01 was lost.'), 'writing a backup').code).toBe('BACKEND_ERROR')
    // What the AWS SDK throws when an S3 connection is reset mid-request: a lost connection, not a cancel.
    const reset = Object.assign(new Error('socket hang up'), { name: 'TimeoutError', code: 'ECONNRESET' })
    expect(toRepositoryError(reset, 'copying a restore point').code).toBe('BACKEND_ERROR')
    const locked = new RepositoryError('REPO_LOCKED', 'locked')
    expect(toRepositoryError(locked, 'writing a backup')).toBe(locked)
  })
})
