import type { WebhookKind } from '../api/contract-notify'
import type { NotifyMessage, Severity } from './events'

export interface WebhookRequest {
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

const ntfyPriority: Record<Severity, number> = { info: 3, warning: 4, error: 5 }
const ntfyTag: Record<Severity, string> = { info: 'information_source', warning: 'warning', error: 'rotating_light' }
const gotifyPriority: Record<Severity, number> = { info: 2, warning: 5, error: 8 }
const teamsColor: Record<Severity, string> = { info: 'Default', warning: 'Warning', error: 'Attention' }

const json = (token: string | undefined, extra: Record<string, string> = {}) => ({
  'content-type': 'application/json; charset=utf-8',
  ...(token !== undefined && token !== '' ? { authorization: `Bearer ${token}` } : {}),
  ...extra,
})

/** Slack's mrkdwn gives &, < and > meaning (links, mentions): escape them, as Slack's formatting guide asks. */
const slackEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/**
 * The HTTP request each service documents for an incoming message (sources in engine/notify/README.md).
 * `url` and `token` are the channel's secrets; they go into the request and nowhere else.
 */
export function webhookRequest(kind: WebhookKind, url: string, token: string | undefined, message: NotifyMessage, at: Date): WebhookRequest {
  switch (kind) {
    case 'json':
      return {
        url,
        headers: json(token),
        body: JSON.stringify({ source: 'lifeboat', event: message.kind, severity: message.severity, subject: message.subject, text: message.text, at: at.toISOString() }),
      }
    case 'ntfy': {
      // JSON publishing goes to the server's root with the topic in the body: UTF-8 titles survive, unlike in headers.
      const u = new URL(url)
      const parts = u.pathname.split('/').filter((p) => p !== '')
      const topic = parts.pop() ?? ''
      u.pathname = parts.length > 0 ? `/${parts.join('/')}/` : '/'
      u.search = ''
      return {
        url: u.toString(),
        headers: json(token),
        body: JSON.stringify({ topic: decodeURIComponent(topic), title: message.subject, message: message.text, priority: ntfyPriority[message.severity], tags: [ntfyTag[message.severity]] }),
      }
    }
    case 'gotify': {
      const u = new URL(url)
      if (!u.pathname.endsWith('/message')) u.pathname = `${u.pathname.replace(/\/+$/, '')}/message`
      return {
        url: u.toString(),
        headers: { 'content-type': 'application/json; charset=utf-8', ...(token !== undefined && token !== '' ? { 'x-gotify-key': token } : {}) },
        body: JSON.stringify({ title: message.subject, message: message.text, priority: gotifyPriority[message.severity] }),
      }
    }
    case 'slack':
      return { url, headers: json(undefined), body: JSON.stringify({ text: `*${slackEscape(message.subject)}*\n${slackEscape(message.text)}` }) }
    case 'mattermost':
      return { url, headers: json(undefined), body: JSON.stringify({ text: `#### ${message.subject}\n${message.text}`, username: 'Lifeboat' }) }
    case 'teams':
      return {
        url,
        headers: json(undefined),
        body: JSON.stringify({
          type: 'message',
          attachments: [
            {
              contentType: 'application/vnd.microsoft.card.adaptive',
              contentUrl: null,
              content: {
                $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
                type: 'AdaptiveCard',
                version: '1.4',
                body: [
                  { type: 'TextBlock', text: message.subject, weight: 'Bolder', size: 'Medium', wrap: true, color: teamsColor[message.severity] },
                  { type: 'TextBlock', text: message.text, wrap: true },
                ],
              },
            },
          ],
        }),
      }
  }
}

/** Scheme and host of a webhook URL, for lists and logs: its path and query are the secret. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}/…`
  } catch {
    return '(invalid address)'
  }
}
