import { readFile, stat } from 'node:fs/promises'
import { ApiError } from '../api/contract-errors'
import type { HostAuthInput, HostDto, HostKindDto } from '../api/contract-hosts'
import { call } from './cli-call'
import { EXIT_OK, UsageError, table, type CliIo } from './cli-io'
import { flag, str, type Command, type CommandContext } from './command'

const kinds: readonly HostKindDto[] = ['linux', 'hyperv', 'xenserver']

async function readAuth(ctx: CommandContext, kind: HostKindDto | undefined): Promise<HostAuthInput> {
  const keyFile = str(ctx, 'key')
  const passwordStdin = flag(ctx, 'password-stdin')
  if ((keyFile === undefined) === !passwordStdin) throw new UsageError('Give exactly one of --key FILE or --password-stdin.')
  if (passwordStdin) {
    const text = await ctx.io.readStdin()
    const password = text.replace(/\r?\n$/, '')
    if (password === '') throw new UsageError('--password-stdin: standard input was empty.')
    return { type: 'password', password }
  }
  if (kind === 'xenserver') throw new UsageError('XenServer pools log in with a password: use --password-stdin.')
  const path = keyFile as string
  let info
  try {
    info = await stat(path)
  } catch {
    throw new UsageError(`--key: cannot read ${path}.`)
  }
  if (!info.isFile() || info.size > 64 * 1024) throw new UsageError(`--key: ${path} is not a private key file.`)
  const privateKey = await readFile(path, 'utf8')
  const passphrase = process.env.LIFEBOAT_KEY_PASSPHRASE
  return passphrase !== undefined && passphrase !== '' ? { type: 'key', privateKey, passphrase } : { type: 'key', privateKey }
}

function describeHost(h: HostDto): string {
  const who = h.identity?.hostname ? ` — ${h.identity.hostname}${h.identity.os ? `, ${h.identity.os}` : ''}` : ''
  return `${h.name} (${h.kind}, ${h.user}@${h.address}:${h.port})${who}\n  ${h.fingerprintType} ${h.fingerprint}`
}

function printHost(io: CliIo, h: HostDto, verb: string): void {
  if (io.json) io.out(JSON.stringify(h, null, 2))
  else io.out(`${verb} ${describeHost(h)}`)
}

/**
 * Runs `attempt(fingerprint)`; when the host's key is not confirmed yet, shows it and asks on the terminal
 * (or fails with the fingerprint in the message when there is no terminal, for scripts to pass it back).
 */
async function withFingerprintConfirmation<T>(io: CliIo, given: string | undefined, attempt: (fp: string | undefined) => Promise<T>): Promise<T> {
  try {
    return await attempt(given)
  } catch (err) {
    if (!(err instanceof ApiError) || err.code !== 'HOST_KEY_UNKNOWN' || given !== undefined) throw err
    const fp = String(err.params.fingerprint ?? '')
    const type = String(err.params.keyType ?? 'key')
    const what = type === 'tls-certificate' ? 'TLS certificate' : `SSH host key (${type})`
    const answer = io.confirm(`${String(err.params.address ?? 'The host')} presented this ${what}:\n  ${fp}\nCompare it with the host's console. Trust it and continue?`)
    if (answer === undefined) {
      throw new ApiError(
        'HOST_KEY_UNKNOWN',
        `The host presented ${what} ${fp}. Nothing was saved. Check it on the host's console, then run the same command with --accept-fingerprint ${fp}`,
        err.params,
      )
    }
    if (!answer) throw new ApiError('HOST_KEY_UNKNOWN', 'You did not trust the host key. Nothing was saved.', err.params)
    return await attempt(fp)
  }
}

export const hostCommands: Command[] = [
  {
    path: ['host', 'add'],
    usage:
      'lifeboat host add --kind linux|hyperv|xenserver --name NAME --address HOST[:PORT] --user USER (--key FILE | --password-stdin) [--accept-fingerprint FP] [--json]',
    summary: 'Connect to a host, confirm its key or certificate, and save it.',
    options: {
      kind: { type: 'string' },
      name: { type: 'string' },
      address: { type: 'string' },
      user: { type: 'string' },
      key: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      'accept-fingerprint': { type: 'string' },
    },
    async run(ctx) {
      const kind = str(ctx, 'kind')
      if (kind === undefined || !kinds.includes(kind as HostKindDto)) throw new UsageError('--kind must be linux, hyperv or xenserver.')
      for (const name of ['name', 'address', 'user']) if (str(ctx, name) === undefined) throw new UsageError(`--${name} is required.`)
      const auth = await readAuth(ctx, kind as HostKindDto)
      const engine = await ctx.engine()
      const host = await withFingerprintConfirmation(ctx.io, str(ctx, 'accept-fingerprint'), (fp) =>
        call(
          engine.handlers,
          'hosts.add',
          {
            kind: kind as HostKindDto,
            name: str(ctx, 'name') ?? '',
            address: str(ctx, 'address') ?? '',
            user: str(ctx, 'user') ?? '',
            auth,
            ...(fp !== undefined ? { acceptFingerprint: fp } : {}),
          },
          ctx.signal,
        ),
      )
      printHost(ctx.io, host, 'Added')
      return EXIT_OK
    },
  },
  {
    path: ['host', 'list'],
    usage: 'lifeboat host list [--json]',
    summary: 'List the saved hosts.',
    options: {},
    async run(ctx) {
      const hosts = await call((await ctx.engine()).handlers, 'hosts.list', {}, ctx.signal)
      if (ctx.io.json) ctx.io.out(JSON.stringify(hosts, null, 2))
      else if (hosts.length === 0) ctx.io.out('No hosts yet. Add one with `lifeboat host add`.')
      else
        ctx.io.out(
          table(
            hosts.map((h) => [h.name, h.kind, `${h.user}@${h.address}:${h.port}`, h.identity?.hostname ?? '', h.fingerprint]),
            ['NAME', 'KIND', 'ADDRESS', 'HOSTNAME', 'FINGERPRINT'],
          ),
        )
      return EXIT_OK
    },
  },
  {
    path: ['host', 'remove'],
    usage: 'lifeboat host remove NAME|ID [--json]',
    summary: 'Forget a host and its saved credentials (nothing on the host changes).',
    options: {},
    positionals: { min: 1, max: 1 },
    async run(ctx) {
      const removed = await call((await ctx.engine()).handlers, 'hosts.remove', { hostId: ctx.positionals[0] ?? '' }, ctx.signal)
      if (ctx.io.json) ctx.io.out(JSON.stringify(removed, null, 2))
      else ctx.io.out(`Removed ${removed.name} and its saved credentials.`)
      return EXIT_OK
    },
  },
  {
    path: ['host', 'test'],
    usage: 'lifeboat host test NAME|ID [--json]',
    summary: 'Connect to a saved host and show who it is.',
    options: {},
    positionals: { min: 1, max: 1 },
    async run(ctx) {
      const result = await call((await ctx.engine()).handlers, 'hosts.test', { hostId: ctx.positionals[0] ?? '' }, ctx.signal)
      if (ctx.io.json) ctx.io.out(JSON.stringify(result, null, 2))
      else ctx.io.out(`OK: ${result.identity.hostname}${result.identity.os ? ` (${result.identity.os})` : ''}, connected in ${result.latencyMs} ms, key ${result.fingerprint}`)
      return EXIT_OK
    },
  },
  {
    path: ['host', 'accept-key'],
    usage: 'lifeboat host accept-key NAME|ID --fingerprint FP [--json]',
    summary: 'Trust a new host key or certificate of a saved host (after a reinstall), once you have checked it.',
    options: { fingerprint: { type: 'string' } },
    positionals: { min: 1, max: 1 },
    async run(ctx) {
      const fingerprint = str(ctx, 'fingerprint')
      if (fingerprint === undefined) throw new UsageError('--fingerprint is required (the new fingerprint, as `lifeboat host test` reported it).')
      const host = await call((await ctx.engine()).handlers, 'hosts.acceptKey', { hostId: ctx.positionals[0] ?? '', fingerprint }, ctx.signal)
      printHost(ctx.io, host, 'Now trusting')
      return EXIT_OK
    },
  },
  {
    path: ['host', 'credentials'],
    usage: 'lifeboat host credentials NAME|ID [--user USER] (--key FILE | --password-stdin) [--json]',
    summary: 'Replace the saved credentials of a host (checked before they are saved).',
    options: { user: { type: 'string' }, key: { type: 'string' }, 'password-stdin': { type: 'boolean' } },
    positionals: { min: 1, max: 1 },
    async run(ctx) {
      const auth = await readAuth(ctx, undefined)
      const user = str(ctx, 'user')
      const host = await call(
        (await ctx.engine()).handlers,
        'hosts.updateCredentials',
        { hostId: ctx.positionals[0] ?? '', auth, ...(user !== undefined ? { user } : {}) },
        ctx.signal,
      )
      printHost(ctx.io, host, 'Updated credentials of')
      return EXIT_OK
    },
  },
]
