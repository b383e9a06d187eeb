import { describe, expect, it } from 'vitest'
import type { PlanView } from '../../../engine/api/contract'
import { draftFromPlan, newDraft, passphraseStrength, problems, toPlanInput } from './wizard-model'

const target = { host: 'h1', vm: 'vm-1', hostName: 'kvm01', vmName: 'web01' }

describe('backup wizard model', () => {
  it('builds a sensible default plan: hot, nightly, a week of dailies', () => {
    const input = toPlanInput(newDraft([target]))
    expect(input).toMatchObject({ name: 'Back up web01', mode: 'hot', schedule: { kind: 'daily', time: '02:00' }, retention: { keepDaily: 7, keepWeekly: 4, keepMonthly: 6 }, concurrency: 1 })
    expect(input.options).toMatchObject({ quiesce: true, shutdownTimeoutSec: 300, forceOffAfterTimeout: false })
  })

  it('requires quiesce only together with quiesce', () => {
    const d = { ...newDraft([target]), requireQuiesce: true }
    expect(toPlanInput(d).options).toMatchObject({ quiesce: true, requireQuiesce: true })
    expect(toPlanInput({ ...d, quiesce: false }).options).toMatchObject({ quiesce: false, requireQuiesce: false })
  })

  it('requires quiesce only together with quiesce', () => {
    const d = { ...newDraft([target]), requireQuiesce: true }
    expect(toPlanInput(d).options).toMatchObject({ quiesce: true, requireQuiesce: true })
    expect(toPlanInput({ ...d, quiesce: false }).options).toMatchObject({ quiesce: false, requireQuiesce: false })
  })

  it('"now" saves a manual plan', () => {
    expect(toPlanInput({ ...newDraft([target]), when: 'now' }).schedule).toEqual({ kind: 'manual' })
  })

  it('stops the admin where something is missing or wrong', () => {
    expect(problems(newDraft([]), 'vms', true).map((p) => p.key)).toEqual(['wizard.err.noVms'])
    const other = { ...newDraft([target]), repo: { kind: 'other' as const, location: 'relative/path', create: true, passphrase: 'short', passphrase2: 'other' } }
    expect(problems(other, 'destination', true).map((p) => p.key)).toEqual(['wizard.err.location', 'wizard.err.passphrase', 'wizard.err.passphraseMatch'])
    const noKeep = { ...newDraft([target]), retention: { keepLast: '', keepDaily: '0', keepWeekly: '', keepMonthly: '' } }
    expect(problems(noKeep, 'when', true).map((p) => p.key)).toEqual(['wizard.err.keep'])
  })

  it('rates passphrases by length and variety', () => {
    expect(passphraseStrength('')).toBe(0)
    expect(passphraseStrength('password123')).toBe(0)
    expect(passphraseStrength('abcdefgh')).toBe(1)
    expect(passphraseStrength('Correct horse 9 battery')).toBe(4)
  })

  it('checks that the newest point boots only when asked (off by default), on the chosen host, and keeps it when edited', () => {
    expect(toPlanInput(newDraft([target])).check).toBeUndefined()
    const d = { ...newDraft([target]), check: true }
    expect(problems(d, 'options', true).map((p) => p.key)).toEqual(['wizard.err.checkHost'])
    const chosen = { ...d, checkHost: 'h1', checkHostName: 'kvm01', checkTimeoutMin: '15' }
    expect(problems(chosen, 'options', true)).toEqual([])
    expect(problems({ ...chosen, checkTimeoutMin: '0' }, 'options', true).map((p) => p.key)).toEqual(['wizard.err.number'])
    const input = toPlanInput(chosen)
    expect(input.check).toEqual({ host: 'h1', hostName: 'kvm01', timeoutSec: 900 })
    const view: PlanView = { plan: { ...input, id: 'p1', enabled: true, options: { quiesce: true, requireQuiesce: false, shutdownTimeoutSec: 300, forceOffAfterTimeout: false, incremental: true }, concurrency: 1, createdAt: '', updatedAt: '', check: { host: 'h1', hostName: 'kvm01', timeoutSec: 900 } }, status: { missedRuns: 0, running: false, nextRuns: [] } }
    const again = draftFromPlan(view, () => ({ hostName: 'kvm01', vmName: 'web01' }))
    expect([again.check, again.checkHost, again.checkTimeoutMin]).toEqual([true, 'h1', '15'])
    expect(toPlanInput(again).check).toEqual(input.check)
    expect(draftFromPlan({ ...view, plan: { ...view.plan, check: undefined } }, () => ({ hostName: '', vmName: '' })).check).toBe(false)
  })

  it('checks after each backup by default, or on a schedule of its own that survives an edit', () => {
    const d = { ...newDraft([target]), check: true, checkHost: 'h1', checkHostName: 'kvm01' }
    expect(d.checkWhen).toBe('after-run')
    expect(toPlanInput(d).check?.schedule).toBeUndefined()
    const own = { ...d, checkWhen: 'schedule' as const }
    expect(toPlanInput(own).check).toEqual({ host: 'h1', hostName: 'kvm01', timeoutSec: 600, schedule: { kind: 'weekly', days: [0], time: '03:00' } })
    expect(problems({ ...own, checkSchedule: { kind: 'weekly', days: [], time: '03:00' } }, 'options', true).map((p) => p.key)).toEqual(['wizard.err.checkDays'])
    expect(problems({ ...own, checkSchedule: { kind: 'cron', expression: '0 3 *' } }, 'options', true).map((p) => p.key)).toEqual(['wizard.err.cron'])
    const input = toPlanInput({ ...own, checkSchedule: { kind: 'daily', time: '04:30' } })
    const view: PlanView = { plan: { ...input, id: 'p1', enabled: true, options: { quiesce: true, requireQuiesce: false, shutdownTimeoutSec: 300, forceOffAfterTimeout: false, incremental: true }, concurrency: 1, createdAt: '', updatedAt: '', check: { host: 'h1', timeoutSec: 600, schedule: { kind: 'daily', time: '04:30' } } }, status: { missedRuns: 0, running: false, nextRuns: [] } }
    const again = draftFromPlan(view, () => ({ hostName: 'kvm01', vmName: 'web01' }))
    expect([again.checkWhen, again.checkSchedule]).toEqual(['schedule', { kind: 'daily', time: '04:30' }])
    // The draft keeps the last check schedule when switched back to "after each backup", but the plan does not carry it.
    expect(toPlanInput({ ...again, checkWhen: 'after-run' }).check?.schedule).toBeUndefined()
  })
})
