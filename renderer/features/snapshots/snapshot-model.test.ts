import { describe, expect, it } from 'vitest'
import { reviewDate, reviewState, revertOutcome, snapshotLabel, sortSnapshots } from './snapshot-model'

const now = Date.parse('2026-11-21T12:00:00Z')
const pre = { lifeboat: true, purpose: 'before-patching' }

describe('snapshot model', () => {
  it('puts the review date N days ahead, or none', () => {
    expect(reviewDate(7, new Date(now))).toBe('2026-11-28T12:00:00.000Z')
    expect(reviewDate(0, new Date(now))).toBeUndefined()
  })

  it('tells pending, due, kept and foreign snapshots apart', () => {
    expect(reviewState({ ...pre, expiresAt: '2026-11-22T00:00:00Z' }, now)).toBe('pending')
    expect(reviewState({ ...pre, expiresAt: '2026-11-20T00:00:00Z' }, now)).toBe('due')
    expect(reviewState({ ...pre, expiresAt: '2026-11-20T00:00:00Z', keptAt: '2026-11-21T00:00:00Z' }, now)).toBe('kept')
    expect(reviewState({ ...pre }, now)).toBe('no-date')
    expect(reviewState({ lifeboat: true, purpose: 'backup', expiresAt: '2026-11-20T00:00:00Z' }, now)).toBe('not-lifeboat')
    expect(reviewState({ lifeboat: false, purpose: 'before-patching' }, now)).toBe('not-lifeboat')
  })

  it('sorts due reminders first', () => {
    const list = [
      { id: 'admin', lifeboat: false, createdAt: '2026-11-21T00:00:00Z' },
      { id: 'pending', ...pre, expiresAt: '2026-11-25T00:00:00Z', createdAt: '2026-11-18T00:00:00Z' },
      { id: 'due', ...pre, expiresAt: '2026-11-19T00:00:00Z', createdAt: '2026-11-12T00:00:00Z' },
    ]
    expect(sortSnapshots(list, now).map((s) => s.id)).toEqual(['due', 'pending', 'admin'])
  })

  it('describes what a revert does to the VM', () => {
    expect(revertOutcome('running', true)).toBe('resume')
    expect(revertOutcome('shutoff', true)).toBe('boot')
    expect(revertOutcome(undefined, true)).toBe('boot')
    expect(revertOutcome('running', false)).toBe('off')
  })

  it('labels from the note, or a default', () => {
    expect(snapshotLabel('  KB5034439\n and openssl ', 'x')).toBe('KB5034439 and openssl')
    expect(snapshotLabel('   ', 'Before patching 21 Nov')).toBe('Before patching 21 Nov')
  })
})
