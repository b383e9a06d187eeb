import { NotifyEventKindSchema, WebhookKindSchema, notifyEventKinds, webhookKinds, type NotifyChannelDto, type NotifyTestResult } from '../api/contract-notify'
import { call } from './cli-call'
import { EXIT_FAILED, EXIT_OK, UsageError, table, type CliIo } from './cli-io'
import { flag, str, type Command, type CommandContext } from './command'

function list(ctx: CommandContext, name: string): string[] {
  const v = ctx.values[name]
  const items = Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : []
  return items.flatMap((x) => x.split(',')).map((x) => x.trim()).filter((x) => x !== '')
}

function int(ctx: CommandContext, name: string): number | undefined {
  const v = str(ctx, name)
  if (v === undefined) return undefined
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} takes a whole number.`)
  return Number(v)
}

/** A secret from standard input (one line, the trailing newline dropped), so it stays out of `ps` and shell history. */
async function secretFromStdin(ctx: CommandContext, option: string): Promise<string> {
  const text = (await ctx.io.readStdin()).replace(/\r?\n$/, '')
  if (text === '') throw new UsageError(`--${option}: standard input was empty.`)
  return text
}

function printChannel(io: CliIo, verb: string, c: NotifyChannelDto): void {
  if (io.json) io.out(JSON.stringify(c, null, 2))
  else io.out(`${verb} ${c.name} (${c.id}): ${c.summary}${c.acceptedFingerprint ? `\n  accepted certificate SHA-256 ${c.acceptedFingerprint}` : ''}`)
}

function printResults(io: CliIo, results: readonly NotifyTestResult[]): void {
  if (io.json) io.out(JSON.stringify({ results }, null, 2))
  else if (results.length === 0) io.out('No alert channels yet. Add one with `lifeboat notify add-email` or `lifeboat notify add-webhook`.')
  else for (const r of results) io.out(`${r.ok ? 'sent  ' : 'FAILED'}  ${r.name} (${r.channelId}), ${r.attempts} ${r.attempts === 1 ? 'try' : 'tries'}: ${r.message}`)
}

export const notifyCommands: Command[] = [
  {
    path: ['notify', 'list'],
    usage: 'lifeboat notify list [--json]',
    summary: 'Alert channels (without their secrets), the events that send alerts, and deliveries that failed lately.',
    options: {},
    async run(ctx) {
      const s = await call((await ctx.engine()).handlers, 'notify.settings', {}, ctx.signal)
      if (ctx.io.json) {
        ctx.io.out(JSON.stringify(s, null, 2))
        return EXIT_OK
      }
      ctx.io.out(s.channels.length === 0 ? 'No alert channels yet.' : table(s.channels.map((c) => [c.id, c.name, c.kind ?? c.type, c.summary]), ['ID', 'NAME', 'KIND', 'WHERE']))
      ctx.io.out(`\nlanguage: ${s.language}   no backup alert after: ${s.staleHours} h   daily summary at: ${s.summaryHour}:00\nevents: ${s.events.join(', ') || '(none)'}`)
      if (s.recentFailures.length > 0) ctx.io.out(`\nFailed deliveries:\n${s.recentFailures.slice(0, 10).map((f) => `  ${f.at}  ${f.channel}  ${f.event}: ${f.message}`).join('\n')}`)
      return EXIT_OK
    },
  },
  {
    path: ['notify', 'add-email'],
    usage:
      'lifeboat notify add-email --host SMTP-HOST [--port 587] [--security starttls|tls] [--user USER --password-stdin] --from ADDRESS --to ADDRESS [--to ADDRESS…] [--name NAME] [--accept-fingerprint SHA256] [--json]',
    summary: 'Add an e-mail channel: SMTP with STARTTLS (or TLS on 465), the certificate checked; the password is read from stdin and kept with the credentials.',
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      security: { type: 'string' },
      user: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      from: { type: 'string' },
      to: { type: 'string', multiple: true },
      name: { type: 'string' },
      'accept-fingerprint': { type: 'string' },
    },
    async run(ctx) {
      const host = str(ctx, 'host')
      const from = str(ctx, 'from')
      const to = list(ctx, 'to')
      if (host === undefined || from === undefined || to.length === 0) throw new UsageError('--host, --from and at least one --to are needed.')
      const security = str(ctx, 'security') ?? 'starttls'
      if (security !== 'starttls' && security !== 'tls') throw new UsageError('--security is starttls (port 587 or 25) or tls (port 465).')
      const user = str(ctx, 'user')
      if (flag(ctx, 'password-stdin') && user === undefined) throw new UsageError('--password-stdin needs --user.')
      const password = flag(ctx, 'password-stdin') ? await secretFromStdin(ctx, 'password-stdin') : undefined
      const name = str(ctx, 'name')
      const fp = str(ctx, 'accept-fingerprint')
      const channel = await call(
        (await ctx.engine()).handlers,
        'notify.addEmail',
        {
          host,
          port: int(ctx, 'port') ?? (security === 'tls' ? 465 : 587),
          security,
          from,
          to,
          ...(user !== undefined ? { user } : {}),
          ...(password !== undefined ? { password } : {}),
          ...(name !== undefined ? { name } : {}),
          ...(fp !== undefined ? { acceptFingerprint: fp } : {}),
        },
        ctx.signal,
      )
      printChannel(ctx.io, 'Added', channel)
      if (!ctx.io.json) ctx.io.err(`Send a test message: lifeboat notify test ${channel.id}`)
      return EXIT_OK
    },
  },
  {
    path: ['notify', 'add-webhook'],
    usage: `lifeboat notify add-webhook --kind ${webhookKinds.join('|')} (--url URL | --url-stdin) [--token-stdin] [--name NAME] [--json]`,
    summary: 'Add a webhook channel. Its URL (read from stdin with --url-stdin, as its path is a key) and token are kept with the credentials.',
    options: { kind: { type: 'string' }, url: { type: 'string' }, 'url-stdin': { type: 'boolean' }, 'token-stdin': { type: 'boolean' }, name: { type: 'string' } },
    async run(ctx) {
      const kind = WebhookKindSchema.safeParse(str(ctx, 'kind'))
      if (!kind.success) throw new UsageError(`--kind is one of ${webhookKinds.join(', ')}.`)
      if (flag(ctx, 'url-stdin') && flag(ctx, 'token-stdin')) throw new UsageError('Only one of --url-stdin and --token-stdin can read standard input; pass the other on the command line or add it in the app.')
      const url = flag(ctx, 'url-stdin') ? await secretFromStdin(ctx, 'url-stdin') : str(ctx, 'url')
      if (url === undefined) throw new UsageError('Give --url URL or --url-stdin.')
      const token = flag(ctx, 'token-stdin') ? await secretFromStdin(ctx, 'token-stdin') : undefined
      const name = str(ctx, 'name')
      const channel = await call(
        (await ctx.engine()).handlers,
        'notify.addWebhook',
        { kind: kind.data, url, ...(token !== undefined ? { token } : {}), ...(name !== undefined ? { name } : {}) },
        ctx.signal,
      )
      printChannel(ctx.io, 'Added', channel)
      return EXIT_OK
    },
  },
  {
    path: ['notify', 'remove'],
    usage: 'lifeboat notify remove ID|NAME [--json]',
    summary: 'Remove an alert channel and its saved secrets.',
    options: {},
    positionals: { min: 1, max: 1 },
    async run(ctx) {
      const { removed } = await call((await ctx.engine()).handlers, 'notify.remove', { channel: ctx.positionals[0] ?? '' }, ctx.signal)
      printChannel(ctx.io, 'Removed', removed)
      return EXIT_OK
    },
  },
  {
    path: ['notify', 'trust'],
    usage: 'lifeboat notify trust ID|NAME --fingerprint SHA256 [--json]',
    summary: "Accept a mail server's self-signed certificate; only if it presents, now, the one with this fingerprint (as `notify test` showed it).",
    options: { fingerprint: { type: 'string' } },
    positionals: { min: 1, max: 1 },
    async run(ctx) {
      const fingerprint = str(ctx, 'fingerprint')
      if (fingerprint === undefined) throw new UsageError('--fingerprint is needed.')
      const channel = await call((await ctx.engine()).handlers, 'notify.trustCertificate', { channel: ctx.positionals[0] ?? '', fingerprint }, ctx.signal)
      printChannel(ctx.io, 'Trusted the certificate of', channel)
      return EXIT_OK
    },
  },
  {
    path: ['notify', 'set'],
    usage: `lifeboat notify set [--language en|de] [--events KIND,…] [--stale-hours N] [--summary-hour H] [--json]`,
    summary: `Choose the alerts' language, the events that send one (${notifyEventKinds.join(', ')}), the "no backup for N hours" limit and the summary hour.`,
    options: { language: { type: 'string' }, events: { type: 'string' }, 'stale-hours': { type: 'string' }, 'summary-hour': { type: 'string' } },
    async run(ctx) {
      const language = str(ctx, 'language')
      if (language !== undefined && language !== 'en' && language !== 'de') throw new UsageError('--language is en or de.')
      const eventsText = str(ctx, 'events')
      const events = eventsText === undefined ? undefined : eventsText.split(',').map((e) => e.trim()).filter((e) => e !== '')
      for (const e of events ?? []) if (!NotifyEventKindSchema.safeParse(e).success) throw new UsageError(`Unknown event "${e}". Events: ${notifyEventKinds.join(', ')}.`)
      const staleHours = int(ctx, 'stale-hours')
      const summaryHour = int(ctx, 'summary-hour')
      const s = await call(
        (await ctx.engine()).handlers,
        'notify.update',
        {
          ...(language !== undefined ? { language } : {}),
          ...(events !== undefined ? { events: events.map((e) => NotifyEventKindSchema.parse(e)) } : {}),
          ...(staleHours !== undefined ? { staleHours } : {}),
          ...(summaryHour !== undefined ? { summaryHour } : {}),
        },
        ctx.signal,
      )
      if (ctx.io.json) ctx.io.out(JSON.stringify(s, null, 2))
      else ctx.io.out(`language: ${s.language}   no backup alert after: ${s.staleHours} h   daily summary at: ${s.summaryHour}:00\nevents: ${s.events.join(', ') || '(none)'}`)
      return EXIT_OK
    },
  },
  {
    path: ['notify', 'test'],
    usage: 'lifeboat notify test [ID|NAME] [--json]',
    summary: 'Send a test message on every alert channel (or one) and say per channel what happened. Exit 0 only when every one was sent.',
    options: {},
    positionals: { min: 0, max: 1 },
    async run(ctx) {
      const channel = ctx.positionals[0]
      const { results } = await call((await ctx.engine()).handlers, 'notify.test', channel !== undefined ? { channel } : {}, ctx.signal)
      printResults(ctx.io, results)
      if (channel !== undefined && results.length === 0) {
        ctx.io.err(`lifeboat: there is no alert channel "${channel}".`)
        return EXIT_FAILED
      }
      return results.length > 0 && results.every((r) => r.ok) ? EXIT_OK : EXIT_FAILED
    },
  },
]
