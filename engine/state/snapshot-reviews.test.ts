import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { SnapshotReviews } from './snapshot-reviews'

describe('SnapshotReviews', () => {
  it('remembers kept snapshots per VM and forgets those that are gone', async () => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'lb-reviews-')), 'snapshot-reviews.json')
    const reviews = new SnapshotReviews(file)
    expect(await reviews.forVm('h', 'vm1')).toEqual([])
    await reviews.keep('h', 'vm1', 's1', new Date('2026-11-01T10:00:00Z'))
    await reviews.keep('h', 'vm1', 's2')
    await reviews.keep('h', 'vm2', 's1')
    await reviews.keep('h', 'vm1', 's1', new Date('2026-11-02T10:00:00Z')) // again: replaced, not doubled
    expect((await reviews.forVm('h', 'vm1')).map((r) => [r.snapshotId, r.keptAt.slice(0, 10)])).toEqual([
      ['s2', expect.any(String)],
      ['s1', '2026-11-02'],
    ])
    await reviews.prune('h', 'vm1', new Set(['s1']))
    expect((await reviews.forVm('h', 'vm1')).map((r) => r.snapshotId)).toEqual(['s1'])
    expect((await reviews.forVm('h', 'vm2')).map((r) => r.snapshotId)).toEqual(['s1'])
  })

  it('refuses a damaged file instead of overwriting it', async () => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'lb-reviews-')), 'snapshot-reviews.json')
    await writeFile(file, '{"version":1,"reviews":[{"hostId":1}]}')
    const reviews = new SnapshotReviews(file)
    await expect(reviews.keep('h', 'vm', 's')).rejects.toMatchObject({ code: 'STATE_CORRUPT' })
    expect(await readFile(file, 'utf8')).toBe('{"version":1,"reviews":[{"hostId":1}]}')
  })
})
