import type { InputOf, NotifyEventKind, WebhookKind, notifyAddEmail, notifyAddWebhook } from '../../../engine/api/contract'
import type { MessageKey } from '../../i18n/en'

export interface EmailForm {
  readonly name: string
  readonly host: string
  readonly port: string
  readonly security: 'starttls' | 'tls'
  readonly user: string
  readonly password: string
  readonly from: string
  readonly to: string
}

export interface WebhookForm {
  readonly name: string
  readonly kind: WebhookKind
  readonly url: string
  readonly token: string
}

export const emptyEmailForm: EmailForm = { name: '', host: '', port: '587', security: 'starttls', user: '', password: '', from: '', to: '' }
export const emptyWebhookForm: WebhookForm = { name: '', kind: 'ntfy', url: '', token: '' }

export type Checked<T> = { readonly ok: true; readonly input: T } | { readonly ok: false; readonly errors: Readonly<Record<string, MessageKey>> }

const address = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/

/** Splits "a@x.de, b@y.de; c@z.de" into addresses. */
export function addresses(text: string): string[] {
  return text
    .split(/[,;\s]+/)
    .map((a) => a.trim())
    .filter((a) => a !== '')
}

/** The form as the engine wants it, or which fields are wrong (checked again by the engine's schema). */
export function emailInput(form: EmailForm): Checked<InputOf<typeof notifyAddEmail>> {
  const errors: Record<string, MessageKey> = {}
  const to = addresses(form.to)
  const port = Number(form.port)
  if (form.host.trim() === '') errors.host = 'settings.alerts.error.host'
  if (!/^\d+$/.test(form.port.trim()) || port < 1 || port > 65535) errors.port = 'settings.alerts.error.port'
  if (!address.test(form.from.trim())) errors.from = 'settings.alerts.error.address'
  if (to.length === 0 || !to.every((a) => address.test(a))) errors.to = 'settings.alerts.error.address'
  if (form.password !== '' && form.user.trim() === '') errors.user = 'settings.alerts.error.user'
  if (Object.keys(errors).length > 0) return { ok: false, errors }
  return {
    ok: true,
    input: {
      host: form.host.trim(),
      port,
      security: form.security,
      from: form.from.trim(),
      to,
      ...(form.name.trim() !== '' ? { name: form.name.trim() } : {}),
      ...(form.user.trim() !== '' ? { user: form.user.trim() } : {}),
      ...(form.password !== '' ? { password: form.password } : {}),
    },
  }
}

/** Gotify needs its application token; ntfy and the generic webhook take one if the server asks for it. */
export const tokenUse = (kind: WebhookKind): 'required' | 'optional' | 'none' => (kind === 'gotify' ? 'required' : kind === 'ntfy' || kind === 'json' ? 'optional' : 'none')

export function webhookInput(form: WebhookForm): Checked<InputOf<typeof notifyAddWebhook>> {
  const errors: Record<string, MessageKey> = {}
  let url: URL | undefined
  try {
    url = new URL(form.url.trim())
  } catch {
    url = undefined
  }
  if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) errors.url = 'settings.alerts.error.url'
  if (tokenUse(form.kind) === 'required' && form.token.trim() === '') errors.token = 'settings.alerts.error.token'
  if (Object.keys(errors).length > 0) return { ok: false, errors }
  return {
    ok: true,
    input: {
      kind: form.kind,
      url: form.url.trim(),
      ...(form.name.trim() !== '' ? { name: form.name.trim() } : {}),
      ...(tokenUse(form.kind) !== 'none' && form.token.trim() !== '' ? { token: form.token.trim() } : {}),
    },
  }
}

export const eventKey = (kind: NotifyEventKind): MessageKey => `settings.alerts.event.${kind}`
export const webhookKindKey = (kind: WebhookKind): MessageKey => `settings.alerts.kind.${kind}`

/** Turns an event on or off, keeping the contract's order. */
export function toggleEvent(all: readonly NotifyEventKind[], chosen: readonly NotifyEventKind[], kind: NotifyEventKind, on: boolean): NotifyEventKind[] {
  return all.filter((k) => (k === kind ? on : chosen.includes(k)))
}
