import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { startReceiver } from './testing/http-receiver'
import { notifyFixture } from './testing/notify-fixture'

describe('the notify service the scheduler calls', () => {
  it('never throws into its caller, even when its settings file is damaged, and says why in notify.log', async () => {
    await using fx = await notifyFixture()
    await writeFile(path.join(fx.home, 'notify.json'), '{ not json')
    await expect(fx.service.event({ kind: 'run-failed', plan: 'Nightly', error: 'x' })).resolves.toEqual([])
    await expect(fx.service.checkStaleVms([{ key: 'h/v', vm: 'v', protectedSince: '2020-01-01T00:00:00Z' }])).resolves.toEqual([])
    await expect(fx.service.dailySummaryIfDue(() => Promise.reject(new Error('unused')))).resolves.toBe(false)
    expect(await readFile(path.join(fx.home, 'logs', 'notify.log'), 'utf8')).toContain('notify.json is not valid JSON')
  })

  it('alerts a stale VM once, and keeps the episode open for a channel added later', async () => {
    await using receiver = await startReceiver()
    let now = new Date('2026-12-07T12:00:00Z')
    await using fx = await notifyFixture(undefined, () => now)
    const vms = [{ key: 'xen1/db01', vm: 'db01', host: 'xen1', lastSuccessAt: '2026-12-05T12:00:00Z', protectedSince: '2026-01-01T00:00:00Z' }]
    expect(await fx.service.checkStaleVms(vms)).toEqual([])
    await fx.service.config.addWebhook({ kind: 'json', url: `${receiver.base}/hook` })
    expect((await fx.service.checkStaleVms(vms)).map((d) => d.ok)).toEqual([true])
    now = new Date('2026-12-07T12:01:00Z')
    expect(await fx.service.checkStaleVms(vms)).toEqual([])
    expect(receiver.received.map((r) => (JSON.parse(r.body) as { subject: string }).subject)).toEqual(['No backup for 26 h: db01'])
  })
})
