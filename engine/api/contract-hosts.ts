import { z } from 'zod'
import { defineChannel } from './contract-core'

export const HostKindSchema = z.enum(['linux', 'hyperv', 'xenserver'])
export type HostKindDto = z.infer<typeof HostKindSchema>

/** Default port per kind: SSH for Linux and Hyper-V (Windows OpenSSH), HTTPS for XAPI. */
export const defaultPorts: Readonly<Record<HostKindDto, number>> = { linux: 22, hyperv: 22, xenserver: 443 }

// eslint-disable-next-line no-control-regex -- rejecting control characters is the point
const noControl = (s: string) => !/[\u0000-\u001f\u007f]/.test(s)

const hostnameRe = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/
const ipv4Re = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/
const ipv6Re = /^[0-9A-Fa-f:.]{2,45}(%[A-Za-z0-9_.-]{1,32})?$/

export type ParsedAddress = { ok: true; host: string; port?: number } | { ok: false; reason: string }

/**
 * Parses what the admin typed as an address: `host`, `host:port`, `10.0.0.5`, `[fe80::1]:22` or a bare IPv6.
 * Shared by the renderer (inline validation) and the engine (the authority).
 */
export function parseAddress(input: string): ParsedAddress {
  const s = input.trim()
  if (s === '') return { ok: false, reason: 'Enter a host name or IP address.' }
  let host = s
  let portText: string | undefined
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(s)
  if (bracketed?.[1] !== undefined) {
    host = bracketed[1]
    portText = bracketed[2]
    if (!ipv6Re.test(host) || !host.includes(':')) return { ok: false, reason: 'The address in [ ] is not an IPv6 address.' }
  } else if ((s.match(/:/g) ?? []).length === 1) {
    const [h, p] = s.split(':')
    host = h ?? ''
    portText = p
  } else if (s.includes(':')) {
    if (!ipv6Re.test(s)) return { ok: false, reason: 'That is not a valid IPv6 address.' }
    return { ok: true, host: s }
  }
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) return { ok: false, reason: 'The port must be a number from 1 to 65535.' }
    const port = Number(portText)
    if (port < 1 || port > 65535) return { ok: false, reason: 'The port must be a number from 1 to 65535.' }
    if (bracketed === null && !ipv4Re.test(host) && !hostnameRe.test(host)) return { ok: false, reason: 'That is not a valid host name or IP address.' }
    return { ok: true, host, port }
  }
  if (bracketed === null && !ipv4Re.test(host) && !hostnameRe.test(host)) return { ok: false, reason: 'That is not a valid host name or IP address.' }
  return { ok: true, host }
}

export const HostAuthInputSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('password'), password: z.string().min(1, 'Enter the password.').max(4096) }),
  z.object({
    type: z.literal('key'),
    privateKey: z.string().min(1, 'Choose or paste a private key.').max(64 * 1024),
    passphrase: z.string().max(4096).optional(),
  }),
])
export type HostAuthInput = z.infer<typeof HostAuthInputSchema>

export const HostNameSchema = z
  .string()
  .trim()
  .min(1, 'Give the host a name.')
  .max(100, 'Keep the name under 100 characters.')
  .refine(noControl, 'The name cannot contain control characters.')

export const HostUserSchema = z
  .string()
  .trim()
  .min(1, 'Enter the user name.')
  .max(255)
  .refine((s) => noControl(s) && !/\s/.test(s), 'The user name cannot contain spaces or control characters.')

export const AddressSchema = z
  .string()
  .max(300)
  .refine((s) => parseAddress(s).ok, { message: 'Enter a host name or IP address, optionally with :port.' })

export const FingerprintSchema = z.string().trim().min(8).max(200)

export const HostIdentitySchema = z.object({
  hostname: z.string(),
  os: z.string().optional(),
  version: z.string().optional(),
})

export const HostDtoSchema = z.object({
  id: z.string(),
  kind: HostKindSchema,
  name: z.string(),
  address: z.string(),
  port: z.number().int(),
  user: z.string(),
  authType: z.enum(['password', 'key']),
  fingerprint: z.string(),
  fingerprintType: z.string(),
  addedAt: z.string(),
  identity: HostIdentitySchema.optional(),
})
export type HostDto = z.infer<typeof HostDtoSchema>

export const HostAddInputSchema = z.object({
  kind: HostKindSchema,
  name: HostNameSchema,
  address: AddressSchema,
  user: HostUserSchema,
  auth: HostAuthInputSchema,
  /** The fingerprint the admin confirmed. Without it the call fails with HOST_KEY_UNKNOWN carrying the fingerprint. */
  acceptFingerprint: FingerprintSchema.optional(),
})
export type HostAddInput = z.input<typeof HostAddInputSchema>

const HostRef = z.object({ hostId: z.string().min(1).max(200) })

export const hostsList = defineChannel('hosts.list', z.object({}), z.array(HostDtoSchema), 'List the saved hosts.')

export const hostsAdd = defineChannel(
  'hosts.add',
  HostAddInputSchema,
  HostDtoSchema,
  'Connect to a new host, verify its key or certificate against the confirmed fingerprint, authenticate, and save it.',
)

export const hostsTest = defineChannel(
  'hosts.test',
  HostRef,
  z.object({ hostId: z.string(), latencyMs: z.number(), identity: HostIdentitySchema, fingerprint: z.string() }),
  'Connect to a saved host and report who it is and how long the connection took.',
)

export const hostsRemove = defineChannel(
  'hosts.remove',
  HostRef,
  z.object({ hostId: z.string(), name: z.string() }),
  'Forget a host and its saved credentials. Nothing on the host is changed.',
)

export const hostsAcceptKey = defineChannel(
  'hosts.acceptKey',
  HostRef.extend({ fingerprint: FingerprintSchema }),
  HostDtoSchema,
  'Trust a new host key or certificate for a saved host (after a reinstall), once the admin has confirmed it.',
)

export const hostsUpdateCredentials = defineChannel(
  'hosts.updateCredentials',
  HostRef.extend({ user: HostUserSchema.optional(), auth: HostAuthInputSchema }),
  HostDtoSchema,
  'Replace the saved credentials of a host after checking that they work.',
)
