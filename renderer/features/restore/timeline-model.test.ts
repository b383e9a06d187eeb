import { describe, expect, it } from 'vitest'
import type { PointSummaryDto, SnapshotDto } from '../../../engine/api/contract'
import { buildTimeline } from './timeline-model'

const point = (id: string, finishedAt: string): PointSummaryDto => ({
  id,
  parentId: null,
  vm: { id: 'vm', name: 'web01' },
  sourceHost: { name: 'kvm1' },
  mode: 'hot',
  consistency: 'crash',
  startedAt: finishedAt,
  finishedAt,
  disks: [],
  stats: { bytesRead: 0, bytesNew: 0, bytesStored: 0, chunksNew: 0, chunksReused: 0, chunksZero: 0, chunksFromParent: 0 },
})
const snap = (id: string, createdAt?: string): SnapshotDto => ({ id, name: id, lifeboat: true, kind: 'internal', ...(createdAt !== undefined ? { createdAt } : {}) })

describe('the restore timeline', () => {
  it('interleaves restore points and live snapshots, newest first, undated snapshots last', () => {
    const t = buildTimeline([point('p1', '2026-11-01T10:00:00Z'), point('p2', '2026-11-03T10:00:00Z')], [snap('s1', '2026-11-02T10:00:00Z'), snap('s0'), snap('s2', '2026-11-03T10:00:00Z')])
    expect(t.map((e) => e.key)).toEqual(['p:p2', 's:s2', 's:s1', 'p:p1', 's:s0'])
  })

  it('is empty when there is nothing', () => {
    expect(buildTimeline([], [])).toEqual([])
  })
})
