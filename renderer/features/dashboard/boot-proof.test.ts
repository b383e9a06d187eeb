import { describe, expect, it } from 'vitest'
import type { PointCheckDto, PointSummaryDto } from '../../../engine/api/contract'
import { failedChecks, lastProvenBootable } from './boot-proof'

const check = (verdict: PointCheckDto['verdict'], checkedAt: string): PointCheckDto => ({
  pointId: 'x',
  repositoryId: 'r',
  jobId: checkedAt,
  host: { id: 'h', name: 'kvm1' },
  checkedAt,
  verdict,
  summary: '',
  reason: verdict === 'booted' ? 'the guest agent answered after 9 s' : 'no answer from the guest agent within 10 min',
  timings: { restoreMs: 0, bootMs: 0, proofMs: 0, totalMs: 0 },
})
const point = (id: string, vm: string, lastCheck?: PointCheckDto) =>
  ({ id, vm: { id: vm, name: vm }, finishedAt: '2026-12-01T00:00:00Z', ...(lastCheck ? { lastCheck } : {}) }) as unknown as PointSummaryDto

describe('boot proof on the dashboard', () => {
  const points = [
    point('a1', 'web', check('booted', '2026-12-02T10:00:00Z')),
    point('a2', 'web', check('failed', '2026-12-05T10:00:00Z')),
    point('a3', 'web', check('booted', '2026-12-04T10:00:00Z')),
    point('b1', 'db'),
    point('c1', 'mail', check('failed', '2026-12-06T10:00:00Z')),
  ]

  it('per VM, the date of the newest check that booted (a newer failed one does not count)', () => {
    expect(Object.fromEntries(lastProvenBootable(points))).toEqual({ web: '2026-12-04T10:00:00Z' })
  })

  it('lists the points whose latest check failed, newest check first', () => {
    expect(failedChecks(points).map((p) => p.id)).toEqual(['c1', 'a2'])
  })
})
