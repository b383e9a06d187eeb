import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { NotifyEventKindSchema, NotifyLanguageSchema, SmtpSecuritySchema, WebhookKindSchema, notifyEventKinds } from '../api/contract-notify'
import { writeFileAtomic } from './atomic-file'
import { withFileLock } from './file-lock'
import { StateError } from './state-error'

const EmailChannelSchema = z.object({
  id: z.string().min(1).max(64),
  name: z.string().min(1).max(100),
  type: z.literal('email'),
  addedAt: z.string().max(64),
  host: z.string().min(1).max(255),
  port: z.number().int().min(1).max(65535),
  security: SmtpSecuritySchema,
  user: z.string().max(255).optional(),
  from: z.string().max(320),
  to: z.array(z.string().max(320)).min(1).max(50),
  /** A self-signed server certificate the admin accepted: its fingerprint, and the certificate to trust in place of a CA. */
  acceptedFingerprint: z.string().max(200).optional(),
  certificatePem: z.string().max(20_000).optional(),
})
const WebhookChannelSchema = z.object({
  id: z.string().min(1).max(64),
  name: z.string().min(1).max(100),
  type: z.literal('webhook'),
  addedAt: z.string().max(64),
  kind: WebhookKindSchema,
  /** Scheme and host only: the path of a webhook URL is as secret as a password (Slack, Teams, ntfy topics). */
  redactedUrl: z.string().max(300),
})
export const NotifyChannelSchema = z.discriminatedUnion('type', [EmailChannelSchema, WebhookChannelSchema])
export type NotifyChannel = z.infer<typeof NotifyChannelSchema>
export type EmailChannel = z.infer<typeof EmailChannelSchema>
export type WebhookChannel = z.infer<typeof WebhookChannelSchema>

const SettingsSchema = z.object({
  version: z.literal(1),
  language: NotifyLanguageSchema,
  events: z.array(NotifyEventKindSchema).max(50),
  staleHours: z.number().int().min(1).max(24 * 90),
  summaryHour: z.number().int().min(0).max(23),
  channels: z.array(NotifyChannelSchema).max(100),
})
export type NotifySettingsFile = z.infer<typeof SettingsSchema>

export const defaultNotifySettings: NotifySettingsFile = {
  version: 1,
  language: 'en',
  events: [...notifyEventKinds],
  staleHours: 26,
  summaryHour: 7,
  channels: [],
}

/** Alert settings and channels (no secrets: those live in the SecretStore under `notify:<channel id>`). */
export class NotifySettingsStore {
  constructor(private readonly file: string) {}

  async read(): Promise<NotifySettingsFile> {
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return structuredClone(defaultNotifySettings)
      throw err
    }
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (err) {
      throw new StateError('STATE_CORRUPT', `${this.file} is not valid JSON; Lifeboat has not changed it. Remove it to set up alerts again.`, { file: this.file }, { cause: err })
    }
    const parsed = SettingsSchema.safeParse(json)
    if (!parsed.success) throw new StateError('STATE_CORRUPT', `${this.file} does not have the expected layout; Lifeboat has not changed it.`, { file: this.file })
    return parsed.data
  }

  /** Changes the settings under a lock shared with other Lifeboat processes; `change` may throw to refuse. */
  async mutate(change: (data: NotifySettingsFile) => void): Promise<NotifySettingsFile> {
    return withFileLock(`${this.file}.lock`, async () => {
      const data = await this.read()
      change(data)
      const checked = SettingsSchema.parse(data)
      await writeFileAtomic(this.file, JSON.stringify(checked, null, 2) + '\n')
      return checked
    })
  }
}
