import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { NotifyStateStore } from '../state/notify-state'
import { claimDailySummary, staleVmEvents, type VmBackupStatus } from './stale-check'

describe('the "no successful backup for N hours" check', () => {
  let dir: string
  let state: NotifyStateStore
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lifeboat-stale-'))
    state = new NotifyStateStore(path.join(dir, 'notify-state.json'))
  })
  afterEach(() => rm(dir, { recursive: true, force: true }))

  const at = (h: number) => new Date(Date.UTC(2026, 11, 7, 0, 0, 0) + h * 3600_000)
  const vm = (lastSuccessH: number | undefined, protectedSinceH = -100): VmBackupStatus => ({
    key: 'xen1/db01',
    vm: 'db01',
    host: 'xen1',
    protectedSince: at(protectedSinceH).toISOString(),
    ...(lastSuccessH !== undefined ? { lastSuccessAt: at(lastSuccessH).toISOString() } : {}),
  })

  it('alerts once per episode, not on every check, and again only after a new success went stale', async () => {
    const check = (v: VmBackupStatus, h: number) => staleVmEvents({ vms: [v], staleHours: 24, now: at(h), state })
    expect(await check(vm(0), 23)).toEqual([])
    expect(await check(vm(0), 25)).toEqual([{ kind: 'vm-stale', vm: 'db01', host: 'xen1', hours: 24, lastSuccessAt: at(0).toISOString() }])
    for (let minute = 1; minute <= 5; minute++) expect(await check(vm(0), 25 + minute / 60)).toEqual([])
    expect(await check(vm(30), 31)).toEqual([])
    expect(await check(vm(30), 55)).toHaveLength(1)
  })

  it('counts a VM never backed up from when its plan began to cover it, and forgets VMs no plan covers', async () => {
    expect(await staleVmEvents({ vms: [vm(undefined, 0)], staleHours: 24, now: at(10), state })).toEqual([])
    expect(await staleVmEvents({ vms: [vm(undefined, 0)], staleHours: 24, now: at(25), state })).toHaveLength(1)
    expect(await staleVmEvents({ vms: [], staleHours: 24, now: at(26), state })).toEqual([])
    expect((await state.read()).staleEpisodes).toEqual({})
  })

  it('sends the daily summary once a day, after its hour', async () => {
    const local = (h: number, day = 7) => new Date(2026, 11, day, h, 5)
    expect(await claimDailySummary({ now: local(6), summaryHour: 7, state })).toBe(false)
    expect(await claimDailySummary({ now: local(7), summaryHour: 7, state })).toBe(true)
    expect(await claimDailySummary({ now: local(9), summaryHour: 7, state })).toBe(false)
    expect(await claimDailySummary({ now: local(7, 8), summaryHour: 7, state })).toBe(true)
  })
})
