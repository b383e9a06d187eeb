import { describe, expect, it } from 'vitest'
import { jobVerdict } from './job-verdict'

const check = {
  pointId: 'p',
  repositoryId: 'r',
  jobId: 'j',
  host: { id: 'h', name: 'kvm1' },
  checkedAt: '2026-12-06T10:00:00Z',
  verdict: 'failed',
  summary: 'Failed — the disk has no bootable system',
  reason: 'the disk has no bootable system',
  timings: { restoreMs: 1, bootMs: 2, proofMs: 3, totalMs: 6 },
}

describe('the verdict under a finished job', () => {
  it('reads a health check\'s verdict and a plan run\'s check outcome, and nothing from other jobs or odd results', () => {
    expect(jobVerdict('points.check', check)).toEqual({ kind: 'check', verdict: 'failed', reason: 'the disk has no bootable system' })
    expect(jobVerdict('plan.run', { succeeded: 1, failed: 0, pointIds: ['p'], check: { verdict: 'booted', summary: 'web: Booted — x', at: '', pointIds: ['p'], jobIds: ['j'] } })).toEqual({ kind: 'plan', verdict: 'booted', summary: 'web: Booted — x' })
    expect(jobVerdict('plan.run', { succeeded: 1, failed: 0, pointIds: ['p'] })).toBeUndefined()
    // A check on the plan's own schedule (job kind plan.check) returns { check } the same way.
    expect(jobVerdict('plan.check', { check: { verdict: 'failed', summary: 'db: Failed — no heartbeat', at: '', pointIds: ['p'], jobIds: ['j'] } })).toEqual({ kind: 'plan', verdict: 'failed', summary: 'db: Failed — no heartbeat' })
    expect(jobVerdict('backup', check)).toBeUndefined()
    expect(jobVerdict('points.check', { ...check, verdict: 'maybe' })).toBeUndefined()
  })
})
