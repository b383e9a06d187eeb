import { describe, expect, it } from 'vitest'
import type { JobDetailDto } from '../api/contract-jobs'
import type { CliIo } from './cli-io'
import { reportRestore } from './restore-report'

function capture(): CliIo & { lines: string[] } {
  const lines: string[] = []
  return { json: false, lines, out: (t) => lines.push(t), err: (t) => lines.push(t), confirm: () => undefined, readStdin: () => Promise.resolve('') }
}

describe('the end of image get / files get', () => {
  it('prints the error that ended a failed restore once, not once from the job log and once more', () => {
    const message = 'disk.img: the restore folder ran out of space'
    const job: JobDetailDto = {
      id: 'j1',
      kind: 'files.restore',
      title: 'Restore /dir to /tmp/out',
      state: 'failed',
      createdAt: '2026-12-06T20:00:00.000Z',
      progress: { phase: 'restoring', bytesDone: 0 },
      steps: [],
      error: { code: 'NO_SPACE', message, params: {} },
      leftBehind: [],
      log: [
        { at: '2026-12-06T20:00:00.000Z', level: 'warn', message: 'something else worth saying' },
        { at: '2026-12-06T20:00:01.000Z', level: 'error', message },
      ],
    }
    const io = capture()
    expect(reportRestore(io, job, { notRestored: [], renames: [] }, '/tmp/out')).not.toBe(0)
    expect(io.lines.filter((l) => l.includes(message))).toEqual([`lifeboat: ${message}`])
    expect(io.lines).toContain('  something else worth saying')
  })
})
