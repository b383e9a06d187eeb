import { describe, expect, it } from 'vitest'
import { parseSnapshotDescription, slug, snapshotDescription } from './libvirt-snapshots'

describe('libvirt "snapshot before patching" descriptions', () => {
  it('carry the note and the review date, and read back', () => {
    const d = snapshotDescription('  KB 42\n and openssl ', '2026-11-28T12:00:00.000Z')
    expect(d).toBe('Lifeboat snapshot: KB 42 and openssl [review 2026-11-28T12:00:00.000Z]')
    expect(parseSnapshotDescription(d)).toEqual({ label: 'KB 42 and openssl', expiresAt: '2026-11-28T12:00:00.000Z' })
    expect(parseSnapshotDescription(snapshotDescription('x'))).toEqual({ label: 'x' })
  })

  it('do not mistake an admin note that looks like a review date, or a foreign description', () => {
    expect(parseSnapshotDescription('Lifeboat snapshot: a [review soon]')).toEqual({ label: 'a [review soon]' })
    expect(parseSnapshotDescription('Lifeboat snapshot: a [review 2026-99-99T99:99:99Z]')).toEqual({ label: 'a [review 2026-99-99T99:99:99Z]' })
    expect(parseSnapshotDescription('my own snapshot')).toBeUndefined()
  })

  it('slugs labels into safe names', () => {
    expect(slug('Before patching 2.4!')).toBe('before-patching-2-4')
    expect(slug('$(rm -rf /)')).toBe('rm-rf')
    expect(slug('äöü')).toBe('snapshot')
  })
})
