import { appendFile, mkdir } from 'node:fs/promises'
import path from 'node:path'
import type { NotifyTestResult } from '../api/contract-notify'
import type { NotifyChannel, NotifySettingsStore } from '../state/notify-settings'
import type { NotifyStateStore } from '../state/notify-state'
import type { SecretStore } from '../state/secret-store'
import { defaultRetryPolicy, withRetries, type Delivery, type RetryPolicy } from './delivery'
import { isSelectable, type NotifyEvent, type NotifyMessage } from './events'
import { postWebhook } from './http-post'
import { render } from './messages'
import { sendMail } from './smtp-send'
import { webhookRequest } from './webhook-payload'

export interface NotifierDeps {
  readonly settings: NotifySettingsStore
  readonly state: NotifyStateStore
  readonly secrets: SecretStore
  /** Folder of notify.log (one line per failed delivery; never a secret). */
  readonly logDir: string
  readonly policy?: RetryPolicy
  readonly now?: () => Date
}

export interface ChannelDelivery extends Delivery {
  readonly channelId: string
  readonly name: string
}

export const secretIdOf = (channelId: string) => `notify:${channelId}`

/**
 * Sends alerts on every configured channel. `event()` is what features call when something happened: it never
 * throws and never waits longer than the retry policy allows; a delivery that fails after its retries is written
 * to notify.log and kept for the settings page, so a silent channel gets noticed.
 */
export class Notifier {
  private readonly policy: RetryPolicy
  private readonly now: () => Date

  constructor(private readonly deps: NotifierDeps) {
    this.policy = deps.policy ?? defaultRetryPolicy
    this.now = deps.now ?? (() => new Date())
  }

  /** Sends an event the admin chose to hear about (in the app's language) on every channel. Never throws. */
  async event(event: NotifyEvent, signal: AbortSignal = new AbortController().signal): Promise<ChannelDelivery[]> {
    try {
      const settings = await this.deps.settings.read()
      if (isSelectable(event.kind) && !settings.events.includes(event.kind)) return []
      const message = render(event, settings.language)
      return await Promise.all(settings.channels.map((c) => this.deliverAndRecord(c, message, signal)))
    } catch (err) {
      await this.log(`alerts could not be read or sent for ${event.kind}: ${err instanceof Error ? err.message : String(err)}`)
      return []
    }
  }

  /** A test message on every channel (or the one named), with what happened on each. */
  async test(channel: string | undefined, signal: AbortSignal): Promise<NotifyTestResult[]> {
    const settings = await this.deps.settings.read()
    const chosen = channel === undefined ? settings.channels : settings.channels.filter((c) => c.id === channel || c.name.toLowerCase() === channel.toLowerCase())
    const message = render({ kind: 'test' }, settings.language)
    const results = await Promise.all(chosen.map((c) => this.deliverAndRecord(c, message, signal)))
    return results.map((r) => ({ channelId: r.channelId, name: r.name, ok: r.ok, attempts: r.attempts, message: r.message, ...(r.certificate ? { certificate: r.certificate } : {}) }))
  }

  private async deliverAndRecord(channel: NotifyChannel, message: NotifyMessage, signal: AbortSignal): Promise<ChannelDelivery> {
    let delivery: Delivery
    try {
      delivery = await this.deliver(channel, message, signal)
    } catch (err) {
      delivery = { ok: false, attempts: 0, message: `Could not send: ${err instanceof Error ? err.message : String(err)}` }
    }
    if (!delivery.ok) {
      await this.log(`${channel.name} (${channel.id}): ${message.kind} not delivered after ${delivery.attempts} tries: ${delivery.message}`)
      await this.deps.state.recordFailure({ at: this.now().toISOString(), channel: channel.name, event: message.kind, message: delivery.message }).catch(() => undefined)
    }
    return { channelId: channel.id, name: channel.name, ...delivery }
  }

  private async deliver(channel: NotifyChannel, message: NotifyMessage, signal: AbortSignal): Promise<Delivery> {
    const secret = await this.deps.secrets.getNotifySecret(secretIdOf(channel.id))
    const secrets = [secret.password, secret.url, secret.token, ...urlSecrets(secret.url)]
    if (channel.type === 'email') return withRetries(this.policy, signal, secrets, (s) => sendMail(channel, secret.password, message, s, this.policy.timeoutMs))
    const url = secret.url
    if (url === undefined) return { ok: false, attempts: 0, message: 'The address of this webhook is missing from the saved credentials. Remove the channel and add it again.' }
    const request = webhookRequest(channel.kind, url, secret.token, message, this.now())
    return withRetries(this.policy, signal, secrets, (s) => postWebhook(request, s))
  }

  private async log(line: string): Promise<void> {
    try {
      await mkdir(this.deps.logDir, { recursive: true, mode: 0o700 })
      await appendFile(path.join(this.deps.logDir, 'notify.log'), `${this.now().toISOString()} ${line.replace(/[\r\n]+/g, ' ')}\n`, { mode: 0o600 })
    } catch {
      // Nowhere left to report to; the failure is still in the settings page's list.
    }
  }
}

/** The parts of a webhook URL that identify it (path segments, query values): blanked wherever they might echo. */
function urlSecrets(url: string | undefined): string[] {
  if (url === undefined) return []
  try {
    const u = new URL(url)
    return [u.pathname, u.search, ...u.pathname.split('/').filter((p) => p.length >= 8), ...[...u.searchParams.values()]].filter((p) => p.length >= 4 && p !== '/')
  } catch {
    return []
  }
}
