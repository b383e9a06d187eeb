import { z } from 'zod'
import { defineChannel } from './contract-core'

/**
 * Alerts: e-mail over SMTP and webhooks (generic JSON, ntfy, Gotify, Slack, Mattermost, Teams). Secrets (the SMTP
 * password, webhook URLs and tokens) go in through these channels and never come back out: channel DTOs carry only
 * a redacted summary.
 */
export const notifyEventKinds = [
  'run-failed',
  'run-skipped',
  'vm-stale',
  'check-failed',
  'snapshot-review',
  'repo-space-low',
  'verify-damage',
  'daily-summary',
] as const
export const NotifyEventKindSchema = z.enum(notifyEventKinds)
export type NotifyEventKind = z.infer<typeof NotifyEventKindSchema>

export const webhookKinds = ['json', 'ntfy', 'gotify', 'slack', 'mattermost', 'teams'] as const
export const WebhookKindSchema = z.enum(webhookKinds)
export type WebhookKind = z.infer<typeof WebhookKindSchema>

export const NotifyLanguageSchema = z.enum(['en', 'de'])
export type NotifyLanguage = z.infer<typeof NotifyLanguageSchema>

/** STARTTLS on a plain port (587/25), or TLS from the first byte (465). Plain text is not offered. */
export const SmtpSecuritySchema = z.enum(['starttls', 'tls'])

export const NotifyChannelDtoSchema = z.object({
  id: z.string(),
  name: z.string(),
  type: z.enum(['email', 'webhook']),
  /** The webhook format, for webhooks. */
  kind: WebhookKindSchema.optional(),
  /** "smtp.example.com:587 → admin@example.com" or "ntfy · https://ntfy.sh/…": never a secret. */
  summary: z.string(),
  /** SHA-256 fingerprint of the SMTP server's certificate the admin accepted (self-signed servers). */
  acceptedFingerprint: z.string().optional(),
  addedAt: z.string(),
})
export type NotifyChannelDto = z.infer<typeof NotifyChannelDtoSchema>

export const NotifyFailureDtoSchema = z.object({ at: z.string(), channel: z.string(), event: z.string(), message: z.string() })

export const NotifySettingsDtoSchema = z.object({
  language: NotifyLanguageSchema,
  events: z.array(NotifyEventKindSchema),
  /** Alert when a VM under a plan has had no successful backup for this many hours. */
  staleHours: z.number().int(),
  /** Hour of the day (local time) the daily summary goes out. */
  summaryHour: z.number().int(),
  channels: z.array(NotifyChannelDtoSchema),
  /** The latest deliveries that failed (after their retries), newest first: shown so a silent channel is noticed. */
  recentFailures: z.array(NotifyFailureDtoSchema),
})
export type NotifySettingsDto = z.infer<typeof NotifySettingsDtoSchema>

export const NotifyTestResultSchema = z.object({
  channelId: z.string(),
  name: z.string(),
  ok: z.boolean(),
  attempts: z.number().int(),
  /** What happened, in plain words (no secret in it). */
  message: z.string(),
  /** When an SMTP server's certificate is not trusted: what it presented, to accept explicitly if it is yours. */
  certificate: z.object({ fingerprint: z.string(), subject: z.string(), validTo: z.string() }).optional(),
})
export type NotifyTestResult = z.infer<typeof NotifyTestResultSchema>

const name = z.string().trim().min(1).max(100)
const fingerprint = z.string().trim().regex(/^(SHA256:)?([0-9A-Fa-f]{2}:?){32}$/, 'a SHA-256 fingerprint: 64 hex digits, colons allowed')

export const notifySettings = defineChannel('notify.settings', z.object({}), NotifySettingsDtoSchema, 'Alert channels (without their secrets), chosen events and recent delivery failures.')

export const notifyUpdate = defineChannel(
  'notify.update',
  z.object({
    language: NotifyLanguageSchema.optional(),
    events: z.array(NotifyEventKindSchema).max(notifyEventKinds.length).optional(),
    staleHours: z.number().int().min(1).max(24 * 90).optional(),
    summaryHour: z.number().int().min(0).max(23).optional(),
  }),
  NotifySettingsDtoSchema,
  'Change the language of alerts, the events that send one, the "no backup for N hours" limit or the summary hour.',
)

export const notifyAddEmail = defineChannel(
  'notify.addEmail',
  z.object({
    name: name.optional(),
    host: z.string().trim().min(1).max(255),
    port: z.number().int().min(1).max(65535).default(587),
    security: SmtpSecuritySchema.default('starttls'),
    user: z.string().max(255).optional(),
    password: z.string().max(4096).optional(),
    from: z.email().max(320),
    to: z.array(z.email().max(320)).min(1).max(50),
    acceptFingerprint: fingerprint.optional(),
  }),
  NotifyChannelDtoSchema,
  'Add an e-mail channel (SMTP with STARTTLS or TLS; the password is kept with the other credentials).',
)

export const notifyAddWebhook = defineChannel(
  'notify.addWebhook',
  z.object({
    name: name.optional(),
    kind: WebhookKindSchema,
    url: z.url({ protocol: /^https?$/ }).max(4096),
    /** ntfy access token, Gotify application token, or a bearer token for the generic JSON webhook. */
    token: z.string().max(4096).optional(),
  }),
  NotifyChannelDtoSchema,
  'Add a webhook channel (generic JSON, ntfy, Gotify, Slack, Mattermost or Teams); its URL and token are kept as secrets.',
)

export const notifyRemove = defineChannel('notify.remove', z.object({ channel: z.string().min(1).max(200) }), z.object({ removed: NotifyChannelDtoSchema }), 'Remove an alert channel and its secrets.')

export const notifyTrustCertificate = defineChannel(
  'notify.trustCertificate',
  z.object({ channel: z.string().min(1).max(200), fingerprint }),
  NotifyChannelDtoSchema,
  "Accept an SMTP server's certificate that no public authority vouches for (self-signed), by its SHA-256 fingerprint.",
)

export const notifyTest = defineChannel(
  'notify.test',
  z.object({ channel: z.string().min(1).max(200).optional() }),
  z.object({ results: z.array(NotifyTestResultSchema) }),
  'Send a test message on every alert channel (or one) and say per channel what happened.',
)
