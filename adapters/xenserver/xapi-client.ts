import type { Agent } from 'undici'
import type { Xapi, XapiOptions } from 'xen-api'
import type { z } from 'zod'
import { AdapterError, sameFingerprint, throwIfAborted } from '../host-adapter'
import { loadUndici, loadXenApi, type Undici } from './lazy-modules'
import { CertificateTrust, pemFingerprint, readCertificate, trustedDispatcher, TrustedHttpsAgent } from './pinned-tls'
import { XapiHttp } from './xapi-http'
import { CertificateRecord, HostRecord } from './xapi-records.generated'
import { mapXapiError, xapiCode } from './xapi-errors'

export interface XapiConnectOptions {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: string
  readonly pinnedFingerprint?: string
  readonly timeoutMs: number
}

/** A SHA-256 digest as XAPI's Certificate records write it: 32 hex pairs separated by colons. */
const SHA256_HEX = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){31}$/

const bracket = (host: string) => (host.includes(':') ? `[${host}]` : host)

/**
 * Asks a host whose certificate is not the pinned one whether it is a pool member, without sending anything secret:
 * a login with an empty user name and password. A member answers HOST_IS_SLAVE with the master's address; the
 * master then still has to present the pinned certificate before it gets the real credentials.
 */
async function askForMaster(host: string, port: number, timeoutMs: number, signal: AbortSignal): Promise<string | undefined> {
  const undici = await loadUndici()
  const unverified = new undici.Agent({ connect: { rejectUnauthorized: false, timeout: timeoutMs } })
  try {
    const res = await undici.request(`https://${bracket(host)}:${port}/jsonrpc`, {
      method: 'POST',
      dispatcher: unverified,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'session.login_with_password', params: ['', ''], id: 0 }),
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
    })
    const text = (await res.body.text()).slice(0, 4096)
    const answer = JSON.parse(text) as { error?: { message?: unknown; data?: unknown } }
    const data = answer.error?.data
    if (answer.error?.message === 'HOST_IS_SLAVE' && Array.isArray(data) && typeof data[0] === 'string' && /^[A-Za-z0-9.:\-[\]]{1,255}$/.test(data[0])) return data[0]
    return undefined
  } catch {
    return undefined
  } finally {
    await unverified.close().catch(() => undefined)
  }
}

/**
 * A typed XAPI session over the `xen-api` package, on connections that check the certificate fingerprint the admin
 * confirmed. Pool-master redirection is followed only to a master that presents the pinned certificate; other pool
 * members (disk transfers, NBD) must present the certificate the master reports for them. Long calls run as XAPI
 * tasks whose progress is reported and which are cancelled with the caller's AbortSignal.
 */
export class XapiClient {
  readonly http: XapiHttp

  private constructor(
    private readonly xapi: Xapi,
    readonly trust: CertificateTrust,
    readonly port: number,
    private readonly dispatcher: Agent,
    request: Undici['request'],
  ) {
    this.http = new XapiHttp(this, dispatcher, request)
  }

  get fingerprint(): string {
    return this.trust.pinned
  }

  /** The address of the pool master this session talks to. */
  get masterAddress(): string {
    return this.trust.master
  }

  /** False once xen-api has given up on the session (then a new client must log in). */
  isOpen(): boolean {
    return this.xapi.status === 'connected'
  }

  get sessionId(): string {
    const id = this.xapi.status === 'connected' ? this.xapi.sessionId : undefined
    if (id === undefined) throw new AdapterError('CONNECTION_LOST', 'The XAPI session is not open.')
    return id
  }

  static async open(options: XapiConnectOptions, signal: AbortSignal): Promise<XapiClient> {
    throwIfAborted(signal, 'Connecting')
    const { host, port, timeoutMs } = options
    const pinned = options.pinnedFingerprint
    const seen = await readCertificate(host, port, timeoutMs, signal)
    const params = { address: host, port, fingerprint: seen.fingerprint, keyType: 'tls-certificate', subject: seen.subject }
    if (pinned === undefined) {
      throw new AdapterError('HOST_KEY_UNKNOWN', `${host} presented TLS certificate ${seen.fingerprint} (${seen.subject}). Confirm this fingerprint before Lifeboat sends any credentials.`, params)
    }
    let master = host
    if (!sameFingerprint(pinned, seen.fingerprint)) {
      const redirect = await askForMaster(host, port, timeoutMs, signal)
      const target = redirect === undefined ? undefined : await readCertificate(redirect, port, timeoutMs, signal).catch(() => undefined)
      if (redirect === undefined || target === undefined || !sameFingerprint(pinned, target.fingerprint)) {
        throw new AdapterError(
          'HOST_KEY_MISMATCH',
          `${host} presented a different TLS certificate than the one you confirmed (${seen.fingerprint}, expected ${pinned}). Lifeboat did not connect. If the certificate was renewed, confirm the new one; otherwise someone may be intercepting the connection.`,
          { ...params, expected: pinned },
        )
      }
      master = redirect
    }
    return await XapiClient.login(options, new CertificateTrust(pinned, master), signal)
  }

  private static async login(options: XapiConnectOptions, trust: CertificateTrust, signal: AbortSignal): Promise<XapiClient> {
    const [xenApi, undici] = await Promise.all([loadXenApi(), loadUndici()])
    const dispatcher = trustedDispatcher(undici, trust, options.timeoutMs)
    const agent = new TrustedHttpsAgent(trust)
    let redirectedFrom: string | undefined
    class TrustedXapi extends xenApi.Xapi {
      protected override _setUrl(url: unknown): void {
        // xen-api calls this again when a login answers HOST_IS_SLAVE: the pin moves with the master role.
        const host = (url as { hostname?: string }).hostname?.replace(/^\[|\]$/g, '')
        if (host !== undefined && host !== trust.master) {
          redirectedFrom = trust.master
          trust.moveMaster(host)
        }
        this._undiciDispatcher = dispatcher
        this._httpAgent = agent
        super._setUrl(url)
      }
    }
    const xapiOptions: XapiOptions = {
      url: `https://${bracket(trust.master)}:${options.port}`,
      auth: { user: options.user, password: options.password },
      // Certificates are checked by the trusted connections above; this only stops xen-api from also demanding a
      // CA-signed certificate, which self-signed XenServer hosts never have.
      allowUnauthorized: true,
      watchEvents: false,
      callTimeout: (method: string, args: unknown[]) => (method === 'event.from' ? (Number(args[3] ?? 60) + 30) * 1000 : 10 * 60_000),
      transport: 'json-rpc',
    }
    const xapi = new TrustedXapi(xapiOptions)
    xapi.on('error', () => undefined)
    const onAbort = () => void xapi.disconnect().catch(() => undefined)
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      await xapi.connect()
    } catch (err) {
      await xapi.disconnect().catch(() => undefined)
      await dispatcher.close().catch(() => undefined)
      if (signal.aborted) throw new AdapterError('CANCELLED', 'Connecting was cancelled.')
      const mapped = mapXapiError(err, options.user)
      if (redirectedFrom !== undefined && (mapped.code === 'HOST_KEY_UNKNOWN' || mapped.code === 'HOST_KEY_MISMATCH')) {
        throw new AdapterError(
          'HOST_KEY_UNKNOWN',
          `${redirectedFrom} is a member of a pool whose master is ${trust.master}. Lifeboat talks to the pool master; confirm its certificate ${String(mapped.params.fingerprint ?? '')} to continue (nothing secret was sent to it).`,
          { ...mapped.params, address: trust.master, redirectedFrom },
        )
      }
      throw mapped
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
    const client = new XapiClient(xapi, trust, options.port, dispatcher, undici.request)
    await client.learnPoolCertificates(signal).catch(() => undefined)
    return client
  }

  /**
   * Learns each pool member's certificate from the master (Certificate records, else host.get_server_certificate).
   * `fingerprint_sha256` arrived in XAPI 24.20.0; before it the record has only `fingerprint`, which xapi filled with
   * the same SHA-256 digest in the same upper-case colon-separated hex (ocaml/xapi/certificates.ml, `pp_hash` of
   * `X509.Certificate.fingerprint SHA256`) — and still does, deprecated, beside the new field. `type` arrived in
   * 1.294.0: before it every Certificate record was a host's own (the schema's default, `host`).
   */
  async learnPoolCertificates(signal: AbortSignal): Promise<void> {
    const hosts = await this.records('host', HostRecord, signal)
    try {
      const certs = await this.records('Certificate', CertificateRecord, signal)
      for (const c of certs.values()) {
        const h = hosts.get(c.host)
        const sha256 = [c.fingerprint_sha256, c.fingerprint].find((f) => SHA256_HEX.test(f))
        if (c.type === 'host' && h !== undefined && sha256 !== undefined) this.trust.learn(h.address, `SHA256:${sha256}`)
      }
    } catch (err) {
      if (xapiCode(err) !== 'MESSAGE_METHOD_UNKNOWN') throw err
      for (const [ref, h] of hosts) {
        const pem = await this.call('host.get_server_certificate', [ref], signal)
        const fp = typeof pem === 'string' ? pemFingerprint(pem) : undefined
        if (fp !== undefined) this.trust.learn(h.address, fp)
      }
    }
  }

  /** Calls a XAPI method with the session; the result is unknown until the caller parses it with a schema. */
  async call(method: string, args: readonly unknown[] = [], signal?: AbortSignal): Promise<unknown> {
    if (signal?.aborted === true) throw new AdapterError('CANCELLED', `${method} was cancelled.`)
    const pending = this.xapi.call(method, ...args)
    try {
      if (signal === undefined) return await pending
      return await new Promise((resolve, reject) => {
        const onAbort = () => reject(new AdapterError('CANCELLED', `${method} was cancelled.`))
        signal.addEventListener('abort', onAbort, { once: true })
        pending.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
      })
    } catch (err) {
      throw mapXapiError(err)
    }
  }

  /** All records of a class, each parsed with `schema`; a record that does not parse fails the call. */
  async records<S extends z.ZodType>(cls: string, schema: S, signal?: AbortSignal): Promise<Map<string, z.output<S>>> {
    const value = await this.call(`${cls}.get_all_records`, [], signal)
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new AdapterError('BAD_RESPONSE', `The pool returned ${cls} records Lifeboat does not understand.`)
    const out = new Map<string, z.output<S>>()
    for (const [ref, raw] of Object.entries(value as Record<string, unknown>)) out.set(ref, parseRecord(cls, schema, raw))
    return out
  }

  async record<S extends z.ZodType>(cls: string, ref: string, schema: S, signal?: AbortSignal): Promise<z.output<S>> {
    return parseRecord(cls, schema, await this.call(`${cls}.get_record`, [ref], signal))
  }

  async close(): Promise<void> {
    await this.xapi.disconnect().catch(() => undefined)
    await this.dispatcher.close().catch(() => undefined)
  }
}

export function parseRecord<S extends z.ZodType>(cls: string, schema: S, raw: unknown): z.output<S> {
  const parsed = schema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new AdapterError('BAD_RESPONSE', `The pool sent a ${cls} record Lifeboat does not understand (${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}).`)
  }
  return parsed.data
}
