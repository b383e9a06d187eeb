import { execFileSync } from 'node:child_process'
import { readFile, readdir } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { ApiError } from '../api/contract-errors'
import { NotifySettingsStore } from '../state/notify-settings'
import { smtpPeerMissing, startSmtpPeer } from './testing/smtp-peer'
import { notifyFixture } from './testing/notify-fixture'

const missing = smtpPeerMissing()
const USER = 'alerts'
const PASSWORD = 'Smtp-Pa55word-never-shown'

/** Python's own e-mail parser (a real one, not ours) decodes the subject and body as a mail client would. */
function parseMail(raw: string): { subject: string; body: string; from: string; to: string } {
  const script = 'import sys,json,email,email.policy\nm=email.message_from_string(sys.stdin.read(),policy=email.policy.default)\nprint(json.dumps({"subject":str(m["subject"]),"from":str(m["from"]),"to":str(m["to"]),"body":m.get_body(("plain",)).get_content()}))'
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script], { input: raw, encoding: 'utf8' })) as { subject: string; body: string; from: string; to: string }
}

describe.skipIf(missing !== undefined)(`e-mail alerts through a real SMTP server (aiosmtpd, STARTTLS + AUTH)${missing ? ` — skipped: ${missing}` : ''}`, () => {
  it('refuses an untrusted certificate, names its fingerprint, sends once it is accepted, in English and German', async () => {
    await using peer = await startSmtpPeer(USER, PASSWORD)
    await using fx = await notifyFixture({ attempts: 3, backoffMs: 20, timeoutMs: 5000 })
    const { config, notifier } = fx.service
    const channel = await config.addEmail({ host: '127.0.0.1', port: peer.port, security: 'starttls', user: USER, password: PASSWORD, from: 'lifeboat@example.com', to: ['admin@example.com'] }, new AbortController().signal)

    // First use: the self-signed certificate is not trusted, not retried, and its fingerprint is offered.
    const [refused] = await notifier.test(undefined, new AbortController().signal)
    expect(refused).toMatchObject({ ok: false, attempts: 1, certificate: { fingerprint: peer.fingerprint, subject: 'mail.lifeboat.test' } })
    expect(refused?.message).toContain(`lifeboat notify trust ${channel.id} --fingerprint ${peer.fingerprint}`)
    expect(await peer.messages()).toHaveLength(0)

    // A wrong fingerprint changes nothing.
    await expect(config.trust(channel.id, 'AA:'.repeat(31) + 'AA', new AbortController().signal)).rejects.toMatchObject({ code: 'TLS_FAILED' } satisfies Partial<ApiError>)
    expect((await config.dto()).channels[0]?.acceptedFingerprint).toBeUndefined()

    const trusted = await config.trust(channel.id, `SHA256:${peer.fingerprint.toLowerCase()}`, new AbortController().signal)
    expect(trusted.acceptedFingerprint).toBe(peer.fingerprint)
    const [sent] = await notifier.test(channel.name, new AbortController().signal)
    expect(sent).toMatchObject({ ok: true, attempts: 1 })

    await config.update({ language: 'de' })
    const [german] = await notifier.event({ kind: 'vm-stale', vm: 'fileserver', host: 'hv01', hours: 26, lastSuccessAt: '2026-12-05T22:00:00Z' })
    expect(german?.ok).toBe(true)

    const raw = await peer.messages()
    expect(raw).toHaveLength(2)
    const [english, deutsch] = raw.map(parseMail)
    expect(english).toMatchObject({ subject: 'Lifeboat test message', from: 'lifeboat@example.com', to: 'admin@example.com' })
    expect(english?.body).toContain('alerts reach you on this channel')
    expect(deutsch?.subject).toBe('Seit 26 Std. keine Sicherung: fileserver')
    expect(deutsch?.body).toContain('fileserver auf hv01 hat seit mehr als 26 Stunden keine erfolgreiche Sicherung')

    // The password is in the credential store only: not in mail, settings, state or log.
    const home = await readdir(fx.home, { recursive: true })
    const plainFiles = home.filter((f) => f !== 'secrets.json' && /\.(json|log)$/.test(f))
    expect(plainFiles).toContain('notify.json')
    for (const f of plainFiles) expect(await readFile(path.join(fx.home, f), 'utf8')).not.toContain(PASSWORD)
    for (const m of raw) expect(m).not.toContain(PASSWORD)
  })

  it('says plainly when the login is refused, without retrying and without the password', async () => {
    await using peer = await startSmtpPeer(USER, PASSWORD)
    await using fx = await notifyFixture({ attempts: 3, backoffMs: 20, timeoutMs: 5000 })
    const { config, notifier } = fx.service
    const wrong = 'wrong-Password-42'
    await config.addEmail({ host: '127.0.0.1', port: peer.port, security: 'starttls', user: USER, password: wrong, from: 'lifeboat@example.com', to: ['admin@example.com'], acceptFingerprint: peer.fingerprint }, new AbortController().signal)
    const [result] = await notifier.test(undefined, new AbortController().signal)
    expect(result).toMatchObject({ ok: false, attempts: 1 })
    expect(result?.message).toMatch(/refused the login for "alerts"/)
    expect(result?.message).not.toContain(wrong)
    expect(await peer.messages()).toHaveLength(0)
  })

  it('refuses another server that answers on the accepted one\'s address (a different certificate)', async () => {
    await using mine = await startSmtpPeer(USER, PASSWORD)
    await using impostor = await startSmtpPeer(USER, PASSWORD)
    await using fx = await notifyFixture({ attempts: 2, backoffMs: 20, timeoutMs: 5000 })
    const channel = await fx.service.config.addEmail({ host: '127.0.0.1', port: mine.port, security: 'starttls', user: USER, password: PASSWORD, from: 'lifeboat@example.com', to: ['admin@example.com'], acceptFingerprint: mine.fingerprint }, new AbortController().signal)
    expect((await fx.service.notifier.test(undefined, new AbortController().signal))[0]?.ok).toBe(true)
    // The same channel, now reaching a server with a certificate of its own.
    await new NotifySettingsStore(path.join(fx.home, 'notify.json')).mutate((s) => {
      const c = s.channels.find((x) => x.id === channel.id)
      if (c?.type === 'email') c.port = impostor.port
    })
    const [result] = await fx.service.notifier.test(undefined, new AbortController().signal)
    expect(result).toMatchObject({ ok: false, attempts: 1, certificate: { fingerprint: impostor.fingerprint } })
    expect(await impostor.messages()).toHaveLength(0)
  })

  it('sends over TLS from the first byte (port 465 style) to a server whose certificate was accepted when the channel was added', async () => {
    await using peer = await startSmtpPeer(USER, PASSWORD, 'tls')
    await using fx = await notifyFixture({ attempts: 2, backoffMs: 20, timeoutMs: 5000 })
    await fx.service.config.addEmail({ host: '127.0.0.1', port: peer.port, security: 'tls', user: USER, password: PASSWORD, from: 'lifeboat@example.com', to: ['admin@example.com'], acceptFingerprint: peer.fingerprint }, new AbortController().signal)
    const [result] = await fx.service.notifier.test(undefined, new AbortController().signal)
    expect(result).toMatchObject({ ok: true, attempts: 1 })
    expect((await peer.messages()).map(parseMail).map((m) => m.subject)).toEqual(['Lifeboat test message'])
  })
})
