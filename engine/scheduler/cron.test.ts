import { describe, expect, it } from 'vitest'
import { CronError, nextRun, nextRuns, parseCron, runsBetween } from './cron'

const at = (s: string) => new Date(s)
const local = (d: Date | undefined) =>
  d && `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')} ${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`

describe('cron', () => {
  it('finds the next run for common schedules', () => {
    expect(local(nextRun(parseCron('30 2 * * *'), at('2026-11-21T23:59:00')))).toBe('2026-11-22 02:30')
    expect(local(nextRun(parseCron('30 2 * * *'), at('2026-11-22T02:30:00')))).toBe('2026-11-23 02:30')
    expect(local(nextRun(parseCron('0 22 * * mon-fri'), at('2026-11-21T12:00:00')))).toBe('2026-11-23 22:00') // Sat → Mon
    expect(local(nextRun(parseCron('*/15 * * * *'), at('2026-11-21T10:07:30')))).toBe('2026-11-21 10:15')
    expect(local(nextRun(parseCron('0 3 1 */3 *'), at('2026-11-21T00:00:00')))).toBe('2027-01-01 03:00')
    expect(local(nextRun(parseCron('0 0 29 2 *'), at('2026-03-01T00:00:00')))).toBe('2028-02-29 00:00')
    expect(local(nextRun(parseCron('0 12 * * 7'), at('2026-11-21T00:00:00')))).toBe('2026-11-22 12:00') // 7 = Sunday
  })

  it('fires on either day field when both are restricted (crontab(5))', () => {
    const s = parseCron('0 9 1 * fri')
    expect(nextRuns(s, at('2026-11-21T00:00:00'), 3).map(local)).toEqual(['2026-11-27 09:00', '2026-12-01 09:00', '2026-12-04 09:00'])
  })

  it('counts missed runs', () => {
    expect(runsBetween(parseCron('0 2 * * *'), at('2026-11-18T03:00:00'), at('2026-11-21T12:00:00')).map(local)).toEqual(['2026-11-19 02:00', '2026-11-20 02:00', '2026-11-21 02:00'])
  })

  it('refuses what crontab would refuse, with a plain message', () => {
    for (const bad of ['* * * *', '60 * * * *', '* 24 * * *', '0 2 * * funday', '5-1 * * * *', '*/0 * * * *', 'x * * * *', '0 0 31 feb-feb * extra']) {
      expect(() => parseCron(bad), bad).toThrow(CronError)
    }
  })
})
