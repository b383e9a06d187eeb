import { randomBytes } from 'node:crypto'
import { ApiError } from '../api/contract-errors'
import type { InputOf, ParsedInputOf } from '../api/contract-core'
import type { NotifyChannelDto, NotifySettingsDto, notifyAddEmail, notifyAddWebhook, notifyUpdate } from '../api/contract-notify'
import type { NotifyChannel, NotifySettingsStore } from '../state/notify-settings'
import type { NotifyStateStore } from '../state/notify-state'
import type { SecretStore } from '../state/secret-store'
import { normalizeFingerprint, probeCertificate } from './certificate-probe'
import { secretIdOf } from './notifier'
import { redactUrl } from './webhook-payload'

export interface NotifyConfigDeps {
  readonly settings: NotifySettingsStore
  readonly state: NotifyStateStore
  readonly secrets: SecretStore
  readonly now?: () => Date
}

export function channelDto(c: NotifyChannel): NotifyChannelDto {
  const base = { id: c.id, name: c.name, addedAt: c.addedAt }
  if (c.type === 'webhook') return { ...base, type: 'webhook', kind: c.kind, summary: `${c.kind} · ${c.redactedUrl}` }
  return {
    ...base,
    type: 'email',
    summary: `${c.security === 'tls' ? 'smtps' : 'smtp'}://${c.user !== undefined && c.user !== '' ? `${c.user}@` : ''}${c.host}:${c.port} → ${c.to.join(', ')}`,
    ...(c.acceptedFingerprint !== undefined ? { acceptedFingerprint: c.acceptedFingerprint } : {}),
  }
}

function findIn(channels: readonly NotifyChannel[], ref: string): NotifyChannel {
  const found = channels.find((c) => c.id === ref) ?? channels.find((c) => c.name.toLowerCase() === ref.toLowerCase())
  if (!found) throw new ApiError('NOT_FOUND', `There is no alert channel "${ref}". \`lifeboat notify list\` shows them.`, { channel: ref })
  return found
}

function uniqueName(channels: readonly NotifyChannel[], wanted: string): string {
  if (!channels.some((c) => c.name.toLowerCase() === wanted.toLowerCase())) return wanted
  for (let i = 2; ; i++) if (!channels.some((c) => c.name.toLowerCase() === `${wanted} ${i}`.toLowerCase())) return `${wanted} ${i}`
}

/** Adding, removing and changing alert channels; secrets go to the SecretStore, the rest to notify.json. */
export class NotifyConfig {
  private readonly now: () => Date
  constructor(private readonly deps: NotifyConfigDeps) {
    this.now = deps.now ?? (() => new Date())
  }

  async dto(): Promise<NotifySettingsDto> {
    const s = await this.deps.settings.read()
    const state = await this.deps.state.read()
    return { language: s.language, events: s.events, staleHours: s.staleHours, summaryHour: s.summaryHour, channels: s.channels.map(channelDto), recentFailures: state.failures }
  }

  async update(patch: InputOf<typeof notifyUpdate>): Promise<NotifySettingsDto> {
    await this.deps.settings.mutate((s) => {
      if (patch.language !== undefined) s.language = patch.language
      if (patch.events !== undefined) s.events = [...new Set(patch.events)]
      if (patch.staleHours !== undefined) s.staleHours = patch.staleHours
      if (patch.summaryHour !== undefined) s.summaryHour = patch.summaryHour
    })
    return this.dto()
  }

  async addEmail(input: ParsedInputOf<typeof notifyAddEmail>, signal: AbortSignal): Promise<NotifyChannelDto> {
    const id = `ch-${randomBytes(4).toString('hex')}`
    let pin: { acceptedFingerprint: string; certificatePem: string } | undefined
    if (input.acceptFingerprint !== undefined) pin = await this.pin(input.host, input.port, input.security, input.acceptFingerprint, signal)
    if (input.password !== undefined && input.password !== '') await this.deps.secrets.setNotifySecret(secretIdOf(id), { password: input.password })
    let added: NotifyChannel | undefined
    await this.deps.settings.mutate((s) => {
      added = {
        id,
        name: uniqueName(s.channels, input.name ?? `E-mail ${input.to[0] ?? ''}`.trim()),
        type: 'email',
        addedAt: this.now().toISOString(),
        host: input.host,
        port: input.port,
        security: input.security,
        ...(input.user !== undefined && input.user !== '' ? { user: input.user } : {}),
        from: input.from,
        to: [...input.to],
        ...(pin ?? {}),
      }
      s.channels.push(added)
    })
    if (!added) throw new ApiError('INTERNAL', 'The channel was not saved.')
    return channelDto(added)
  }

  async addWebhook(input: InputOf<typeof notifyAddWebhook>): Promise<NotifyChannelDto> {
    const id = `ch-${randomBytes(4).toString('hex')}`
    await this.deps.secrets.setNotifySecret(secretIdOf(id), { url: input.url, ...(input.token !== undefined && input.token !== '' ? { token: input.token } : {}) })
    let added: NotifyChannel | undefined
    await this.deps.settings.mutate((s) => {
      added = { id, name: uniqueName(s.channels, input.name ?? `${input.kind} ${new URL(input.url).hostname}`), type: 'webhook', addedAt: this.now().toISOString(), kind: input.kind, redactedUrl: redactUrl(input.url) }
      s.channels.push(added)
    })
    if (!added) throw new ApiError('INTERNAL', 'The channel was not saved.')
    return channelDto(added)
  }

  async remove(ref: string): Promise<NotifyChannelDto> {
    let removed: NotifyChannel | undefined
    await this.deps.settings.mutate((s) => {
      removed = findIn(s.channels, ref)
      s.channels = s.channels.filter((c) => c !== removed)
    })
    if (!removed) throw new ApiError('INTERNAL', 'The channel was not removed.')
    await this.deps.secrets.delete(secretIdOf(removed.id))
    return channelDto(removed)
  }

  /** Accepts a self-signed SMTP certificate: only if the server presents, now, the one with the fingerprint the admin gave. */
  async trust(ref: string, fingerprint: string, signal: AbortSignal): Promise<NotifyChannelDto> {
    const channel = findIn((await this.deps.settings.read()).channels, ref)
    if (channel.type !== 'email') throw new ApiError('NOT_SUPPORTED', `"${channel.name}" is a webhook; certificates are accepted only for mail servers.`, { channel: ref })
    const pin = await this.pin(channel.host, channel.port, channel.security, fingerprint, signal)
    let updated: NotifyChannel | undefined
    await this.deps.settings.mutate((s) => {
      const i = s.channels.findIndex((c) => c.id === channel.id)
      const current = s.channels[i]
      if (current?.type !== 'email') throw new ApiError('NOT_FOUND', `The alert channel "${ref}" was removed meanwhile.`, { channel: ref })
      updated = { ...current, ...pin }
      s.channels[i] = updated
    })
    if (!updated) throw new ApiError('INTERNAL', 'The certificate was not saved.')
    return channelDto(updated)
  }

  private async pin(host: string, port: number, security: 'starttls' | 'tls', fingerprint: string, signal: AbortSignal) {
    const wanted = normalizeFingerprint(fingerprint)
    let probe
    try {
      probe = await probeCertificate({ host, port, security, signal: AbortSignal.any([signal, AbortSignal.timeout(15_000)]) })
    } catch (err) {
      throw new ApiError('HOST_UNREACHABLE', `Could not fetch the certificate of ${host}:${port}: ${err instanceof Error ? err.message : String(err)}. Nothing was changed.`, { host, port })
    }
    if (probe.fingerprint !== wanted) {
      throw new ApiError('TLS_FAILED', `${host}:${port} presents a certificate with fingerprint ${probe.fingerprint}, not ${wanted}. Nothing was changed: check that you are talking to your own server.`, { host, port, fingerprint: probe.fingerprint })
    }
    return { acceptedFingerprint: probe.fingerprint, certificatePem: probe.pem }
  }
}
