import { describe, expect, it } from 'vitest'
import { notifyAddEmail, notifyAddWebhook, notifyEventKinds } from '../../../engine/api/contract'
import { emailInput, emptyEmailForm, emptyWebhookForm, toggleEvent, webhookInput } from './alerts-model'

describe('the Alerts section model', () => {
  it('turns a filled e-mail form into input the engine accepts, and names each wrong field', () => {
    const ok = emailInput({ ...emptyEmailForm, host: ' smtp.example.com ', user: 'alerts', password: 'pw', from: 'lifeboat@example.com', to: 'a@example.com, b@example.com' })
    expect(ok).toEqual({ ok: true, input: { host: 'smtp.example.com', port: 587, security: 'starttls', user: 'alerts', password: 'pw', from: 'lifeboat@example.com', to: ['a@example.com', 'b@example.com'] } })
    if (ok.ok) expect(notifyAddEmail.input.safeParse(ok.input).success).toBe(true)
    expect(emailInput({ ...emptyEmailForm, port: '99999', password: 'pw', to: 'not-an-address' })).toEqual({
      ok: false,
      errors: { host: 'settings.alerts.error.host', port: 'settings.alerts.error.port', from: 'settings.alerts.error.address', to: 'settings.alerts.error.address', user: 'settings.alerts.error.user' },
    })
  })

  it('asks Gotify for its token, passes an optional ntfy token, and drops a token Slack would not use', () => {
    expect(webhookInput({ ...emptyWebhookForm, kind: 'gotify', url: 'https://push.example.com' })).toEqual({ ok: false, errors: { token: 'settings.alerts.error.token' } })
    const ntfy = webhookInput({ ...emptyWebhookForm, kind: 'ntfy', url: 'https://ntfy.sh/lifeboat', token: 'tk_1' })
    expect(ntfy).toEqual({ ok: true, input: { kind: 'ntfy', url: 'https://ntfy.sh/lifeboat', token: 'tk_1' } })
    if (ntfy.ok) expect(notifyAddWebhook.input.safeParse(ntfy.input).success).toBe(true)
    expect(webhookInput({ ...emptyWebhookForm, kind: 'slack', url: 'https://hooks.slack.com/services/x', token: 'stray' })).toEqual({ ok: true, input: { kind: 'slack', url: 'https://hooks.slack.com/services/x' } })
    expect(webhookInput({ ...emptyWebhookForm, kind: 'json', url: 'ftp://example.com/x' })).toEqual({ ok: false, errors: { url: 'settings.alerts.error.url' } })
  })

  it('switches one event on or off and keeps the order of the contract', () => {
    expect(toggleEvent(notifyEventKinds, ['verify-damage', 'run-failed'], 'vm-stale', true)).toEqual(['run-failed', 'vm-stale', 'verify-damage'])
    expect(toggleEvent(notifyEventKinds, ['run-failed', 'vm-stale'], 'run-failed', false)).toEqual(['vm-stale'])
  })
})
