import { describe, expect, it } from 'vitest'
import type { NotifyEvent } from './events'
import { render } from './messages'

const events: NotifyEvent[] = [
  { kind: 'run-failed', plan: 'Nightly', vm: 'web01', error: 'host unreachable', jobId: 'j1' },
  { kind: 'run-skipped', plan: 'Nightly', reason: 'the previous run is still going' },
  { kind: 'vm-stale', vm: 'db01', host: 'xen1', hours: 26 },
  { kind: 'check-failed', point: 'p-1', vm: 'db01', reason: 'no answer from the guest agent' },
  { kind: 'snapshot-review', vm: 'db01', snapshot: 'before patching', reviewBy: '2026-12-01T10:00:00Z' },
  { kind: 'repo-space-low', repository: '/srv/backup', freeBytes: 5 * 1024 ** 3, totalBytes: 100 * 1024 ** 3 },
  { kind: 'verify-damage', repository: '/srv/backup', damagedChunks: 3, points: ['p-1', 'p-2'] },
  { kind: 'daily-summary', date: '2026-12-07', runsSucceeded: 10, runsFailed: 1, runsSkipped: 0, staleVms: ['db01'], freeBytes: 1024 },
  { kind: 'test' },
]

describe('alert messages', () => {
  it('renders every event in English and in German, each with its own words', () => {
    for (const e of events) {
      const en = render(e, 'en')
      const de = render(e, 'de')
      expect(en.subject.length).toBeGreaterThan(5)
      expect(de.text.length).toBeGreaterThan(10)
      expect(de.subject).not.toBe(en.subject)
      expect(de.text).not.toBe(en.text)
    }
    expect(render(events[2]!, 'en')).toMatchObject({ severity: 'error', subject: 'No backup for 26 h: db01' })
    expect(render(events[2]!, 'en').text).toContain('Last success: never.')
    expect(render(events[2]!, 'de').text).toContain('Letzter Erfolg: noch nie.')
    expect(render(events[5]!, 'de').text).toContain('5 GiB von 100 GiB frei')
    expect(render(events[7]!, 'en').text).toContain('10 succeeded, 1 failed, 0 skipped')
  })

  it('keeps names from hosts on one line: no header injection through a subject', () => {
    const m = render({ kind: 'run-failed', plan: 'evil\r\nBcc: victim@example.com', error: 'x\u0000y' }, 'en')
    expect(m.subject).toBe('Backup failed: evil Bcc: victim@example.com')
    expect(m.subject).not.toMatch(/[\r\n]/)
    expect(m.text).not.toContain('\u0000')
  })
})
