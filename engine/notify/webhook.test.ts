import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { startReceiver } from './testing/http-receiver'
import { notifyFixture } from './testing/notify-fixture'

const SECRET_PATH = 'T000/B000/s3cretHookPathXYZ'
const TOKEN = 'tk_tokenThatMustNotLeak'

describe('webhook channels against a local HTTP receiver', () => {
  it('sends each documented format with its headers, in the chosen language', async () => {
    await using receiver = await startReceiver()
    await using fx = await notifyFixture()
    const { config, notifier } = fx.service
    await config.addWebhook({ kind: 'json', url: `${receiver.base}/generic/${SECRET_PATH}`, token: TOKEN, name: 'json' })
    await config.addWebhook({ kind: 'ntfy', url: `${receiver.base}/lifeboat-alerts`, token: TOKEN, name: 'ntfy' })
    await config.addWebhook({ kind: 'gotify', url: `${receiver.base}/`, token: TOKEN, name: 'gotify' })
    await config.addWebhook({ kind: 'slack', url: `${receiver.base}/services/${SECRET_PATH}`, name: 'slack' })
    await config.addWebhook({ kind: 'mattermost', url: `${receiver.base}/hooks/${SECRET_PATH}`, name: 'mattermost' })
    await config.addWebhook({ kind: 'teams', url: `${receiver.base}/workflows/${SECRET_PATH}?sig=abc123secret`, name: 'teams' })
    await config.update({ language: 'de' })

    const sent = await notifier.event({ kind: 'run-failed', plan: 'Nightly <all>', vm: 'web01', error: 'host unreachable' })
    expect(sent.map((s) => [s.name, s.ok, s.attempts])).toEqual(['json', 'ntfy', 'gotify', 'slack', 'mattermost', 'teams'].map((n) => [n, true, 1]))

    const by = (prefix: string) => {
      const r = receiver.received.find((x) => (prefix === '/' ? x.url === '/' : x.url.startsWith(prefix)))
      if (!r) throw new Error(`nothing received at ${prefix}`)
      return { ...r, json: JSON.parse(r.body) as Record<string, unknown> }
    }
    const generic = by('/generic/')
    expect(generic.headers.authorization).toBe(`Bearer ${TOKEN}`)
    expect(generic.headers['content-type']).toMatch(/^application\/json/)
    expect(generic.json).toMatchObject({ source: 'lifeboat', event: 'run-failed', severity: 'error', subject: 'Sicherung fehlgeschlagen: Nightly <all> (web01)' })

    // ntfy: JSON publishing at the server root, the topic in the body.
    const ntfy = by('/')
    expect(ntfy.url).toBe('/')
    expect(ntfy.headers.authorization).toBe(`Bearer ${TOKEN}`)
    expect(ntfy.json).toMatchObject({ topic: 'lifeboat-alerts', title: 'Sicherung fehlgeschlagen: Nightly <all> (web01)', priority: 5, tags: ['rotating_light'] })

    const gotify = by('/message')
    expect(gotify.headers['x-gotify-key']).toBe(TOKEN)
    expect(gotify.json).toMatchObject({ title: 'Sicherung fehlgeschlagen: Nightly <all> (web01)', priority: 8 })
    expect(String(gotify.json.message)).toContain('host unreachable')

    expect(by('/services/').json).toEqual({ text: expect.stringMatching(/^\*Sicherung fehlgeschlagen: Nightly &lt;all&gt; \(web01\)\*\n/) as unknown })
    expect(by('/hooks/').json).toMatchObject({ text: expect.stringMatching(/^#### Sicherung fehlgeschlagen/) as unknown, username: 'Lifeboat' })

    const teams = by('/workflows/')
    expect(teams.url).toBe(`/workflows/${SECRET_PATH}?sig=abc123secret`)
    expect(teams.json).toMatchObject({
      type: 'message',
      attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: { type: 'AdaptiveCard', body: [{ type: 'TextBlock', text: 'Sicherung fehlgeschlagen: Nightly <all> (web01)', color: 'Attention' }, { type: 'TextBlock' }] } }],
    })

    // The settings show where each webhook goes, never its secret path or token.
    const shown = JSON.stringify(await config.dto())
    expect(shown).not.toContain(SECRET_PATH)
    expect(shown).not.toContain(TOKEN)
    expect(shown).not.toContain('abc123secret')
    expect(await readFile(path.join(fx.home, 'notify.json'), 'utf8')).not.toContain(SECRET_PATH)
  })

  it('does not send events the admin switched off', async () => {
    await using receiver = await startReceiver()
    await using fx = await notifyFixture()
    await fx.service.config.addWebhook({ kind: 'json', url: `${receiver.base}/x` })
    await fx.service.config.update({ events: ['run-failed'] })
    expect(await fx.service.notifier.event({ kind: 'run-skipped', plan: 'p', reason: 'the previous run is still going' })).toEqual([])
    expect(receiver.received).toHaveLength(0)
  })

  it('retries a receiver that answers 500, then reports and logs the failure without throwing or leaking the URL', async () => {
    await using receiver = await startReceiver(() => 500)
    await using fx = await notifyFixture({ attempts: 3, backoffMs: 10, timeoutMs: 2000 })
    await fx.service.config.addWebhook({ kind: 'slack', url: `${receiver.base}/services/${SECRET_PATH}`, name: 'chat' })
    const [result] = await fx.service.notifier.event({ kind: 'verify-damage', repository: 'main', damagedChunks: 2, points: ['p1'] })
    expect(result).toMatchObject({ ok: false, attempts: 3 })
    expect(result?.message).toBe('The webhook answered HTTP 500: receiver says no to [secret].')
    expect(receiver.received).toHaveLength(3)
    const dto = await fx.service.config.dto()
    expect(dto.recentFailures[0]).toMatchObject({ channel: 'chat', event: 'verify-damage' })
    const log = await readFile(path.join(fx.home, 'logs', 'notify.log'), 'utf8')
    expect(log).toContain('verify-damage not delivered after 3 tries')
    expect(log + JSON.stringify(dto)).not.toContain('s3cretHookPathXYZ')
  })

  it('gives up on a receiver that never answers after its timeout and retries', async () => {
    await using receiver = await startReceiver((n) => (n < 2 ? 'hang' : 200))
    await using fx = await notifyFixture({ attempts: 2, backoffMs: 10, timeoutMs: 300 })
    await fx.service.config.addWebhook({ kind: 'json', url: `${receiver.base}/slow` })
    const started = Date.now()
    const [result] = await fx.service.notifier.event({ kind: 'repo-space-low', repository: 'main', freeBytes: 1024 })
    expect(Date.now() - started).toBeLessThan(3000)
    expect(result).toMatchObject({ ok: false, attempts: 2, message: 'No answer within 300 ms.' })
    expect(receiver.received).toHaveLength(2)
  })

  it('does not retry an answer another try cannot change (404), and a later success needs no retry', async () => {
    await using receiver = await startReceiver((n) => (n === 0 ? 404 : 200))
    await using fx = await notifyFixture()
    await fx.service.config.addWebhook({ kind: 'gotify', url: receiver.base, token: TOKEN })
    const [first] = await fx.service.notifier.test(undefined, new AbortController().signal)
    expect(first).toMatchObject({ ok: false, attempts: 1 })
    expect(first?.message).not.toContain(TOKEN)
    const [second] = await fx.service.notifier.test(undefined, new AbortController().signal)
    expect(second).toMatchObject({ ok: true, attempts: 1 })
  })
})
