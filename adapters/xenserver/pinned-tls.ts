import { createHash, X509Certificate } from 'node:crypto'
import { Agent as HttpsAgent, type AgentOptions, type RequestOptions } from 'node:https'
import type { Duplex } from 'node:stream'
import { isIP } from 'node:net'
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls'
import type { Agent as UndiciAgent, buildConnector } from 'undici'
import type { Undici } from './lazy-modules'
import { isAbortError } from '../abort'
import { AdapterError, normalizeFingerprint, sameFingerprint } from '../host-adapter'

/** SHA-256 of the DER certificate as uppercase hex pairs: what `openssl x509 -fingerprint -sha256` and XenCenter show. */
export function certificateFingerprint(der: Buffer): string {
  const hex = createHash('sha256').update(der).digest('hex').toUpperCase()
  return `SHA256:${hex.match(/../g)?.join(':') ?? hex}`
}

/** The fingerprint of a PEM certificate (as XAPI hands them out for NBD), or undefined when it is not one. */
export function pemFingerprint(pem: string): string | undefined {
  try {
    return certificateFingerprint(new X509Certificate(pem).raw)
  } catch {
    return undefined
  }
}

function describeCertificate(der: Buffer): string {
  try {
    const cert = new X509Certificate(der)
    return cert.subject.replace(/\n/g, ', ')
  } catch {
    return 'unreadable certificate'
  }
}

export function openTls(host: string, port: number, signal?: AbortSignal, socket?: Duplex): TLSSocket {
  const options: ConnectionOptions = {
    host,
    port,
    // Verification is by pinned fingerprint below, never by a blanket "allow unauthorized": hosts in a small
    // shop almost always have self-signed certificates, so CA validation would fail and teach admins to click
    // through. The pin is what protects the connection.
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2',
    ...(socket === undefined ? { ALPNProtocols: ['http/1.1'] } : { socket }),
    ...(isIP(host) === 0 ? { servername: host } : {}),
    ...(signal ? { signal } : {}),
  }
  return tlsConnect(options)
}

/** The certificate a TLS socket presented, as fingerprint and subject; undefined when there was none. */
export function presented(socket: TLSSocket): { fingerprint: string; subject: string } | undefined {
  const der = socket.getPeerCertificate(false).raw as Buffer | undefined
  if (der === undefined || der.length === 0) return undefined
  return { fingerprint: certificateFingerprint(der), subject: describeCertificate(der) }
}

function verify(socket: TLSSocket, host: string, port: number, pinned: string | undefined): AdapterError | undefined {
  const cert = presented(socket)
  if (cert === undefined) return new AdapterError('TLS_FAILED', `${host}:${port} did not present a TLS certificate.`)
  const { fingerprint } = cert
  const params = { address: host, port, fingerprint, keyType: 'tls-certificate', subject: cert.subject }
  if (pinned === undefined) {
    return new AdapterError(
      'HOST_KEY_UNKNOWN',
      `${host} presented TLS certificate ${fingerprint} (${params.subject}). Confirm this fingerprint before Lifeboat sends any credentials.`,
      params,
    )
  }
  if (!sameFingerprint(pinned, fingerprint)) {
    return new AdapterError(
      'HOST_KEY_MISMATCH',
      `${host} presented a different TLS certificate than the one you confirmed (${fingerprint}, expected ${pinned}). Lifeboat did not connect. If the certificate was renewed, confirm the new one; otherwise someone may be intercepting the connection.`,
      { ...params, expected: pinned },
    )
  }
  return undefined
}

/** Connects, reads the certificate and disconnects (nothing is sent). */
export async function readCertificate(host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<{ fingerprint: string; subject: string }> {
  return await new Promise((resolve, reject) => {
    const socket = openTls(host, port, signal)
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new AdapterError('CONNECTION_TIMEOUT', `${host}:${port} did not answer in time. Check the address, the port and that the host is on.`))
    }, timeoutMs)
    socket.once('secureConnect', () => {
      clearTimeout(timer)
      const cert = presented(socket)
      socket.destroy()
      if (cert === undefined) reject(new AdapterError('TLS_FAILED', `${host}:${port} did not present a TLS certificate.`))
      else resolve(cert)
    })
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      reject(networkError(err, host, port))
    })
  })
}

/** Connects, reads the certificate and disconnects: how an unknown certificate is shown to the admin. */
export async function probeCertificate(host: string, port: number, pinned: string | undefined, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const socket = openTls(host, port, signal)
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new AdapterError('CONNECTION_TIMEOUT', `${host}:${port} did not answer in time. Check the address, the port and that the host is on.`))
    }, timeoutMs)
    socket.once('secureConnect', () => {
      clearTimeout(timer)
      const problem = verify(socket, host, port, pinned)
      socket.destroy()
      if (problem) reject(problem)
      else resolve()
    })
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      reject(networkError(err, host, port))
    })
  })
}

export function networkError(err: NodeJS.ErrnoException, host: string, port: number): AdapterError {
  if (err instanceof AdapterError) return err
  const reasons: Record<string, string> = {
    ECONNREFUSED: 'refused the connection (is XAPI listening on that port?)',
    EHOSTUNREACH: 'cannot be reached (no route to the host)',
    ENETUNREACH: 'cannot be reached (network unreachable)',
    ENOTFOUND: 'is not a known host name',
    ECONNRESET: 'closed the connection unexpectedly',
    ETIMEDOUT: 'did not answer in time',
  }
  const reason = err.code !== undefined ? reasons[err.code] : undefined
  if (reason !== undefined) return new AdapterError('HOST_UNREACHABLE', `${host}:${port} ${reason}.`, { address: host, port, reason: err.code ?? null }, { cause: err })
  if (isAbortError(err)) return new AdapterError('CANCELLED', 'Connecting was cancelled.')
  return new AdapterError('TLS_FAILED', `The TLS connection to ${host}:${port} failed: ${err.message}`, { address: host, port }, { cause: err })
}

/**
 * Which certificate each pool member must present. The host Lifeboat logs in to (the pool master) must present the
 * fingerprint the admin confirmed. Other members (where XAPI redirects disk transfers, or NBD servers) are trusted
 * only with the fingerprints the master reported for them over that verified, authenticated session.
 */
export class CertificateTrust {
  private readonly members = new Map<string, string>()

  constructor(
    readonly pinned: string,
    private masterAddress: string,
  ) {}

  get master(): string {
    return this.masterAddress
  }

  /** The master moved (HOST_IS_SLAVE): the pin now applies to the new master's address. */
  moveMaster(address: string): void {
    this.masterAddress = address
  }

  learn(address: string, fingerprint: string): void {
    if (address.toLowerCase() !== this.masterAddress.toLowerCase()) this.members.set(address.toLowerCase(), normalizeFingerprint(fingerprint))
  }

  expectedFor(address: string): string | undefined {
    const a = address.replace(/^\[|\]$/g, '').toLowerCase()
    if (a === this.masterAddress.replace(/^\[|\]$/g, '').toLowerCase()) return this.pinned
    return this.members.get(a)
  }

  /** Verifies a connected socket against what this trust expects for `host`. */
  check(socket: TLSSocket, host: string, port: number): AdapterError | undefined {
    const expected = this.expectedFor(host)
    if (expected === undefined) {
      const cert = presented(socket)
      return new AdapterError(
        'HOST_KEY_UNKNOWN',
        `XAPI sent Lifeboat to ${host}, which is not a pool member whose certificate the pool master vouched for${cert ? ` (it presented ${cert.fingerprint})` : ''}. Lifeboat did not connect.`,
        { address: host, port, ...(cert ? { fingerprint: cert.fingerprint, subject: cert.subject } : {}), keyType: 'tls-certificate' },
      )
    }
    return verify(socket, host, port, expected)
  }
}

/** An undici dispatcher whose every connection is checked against the trust before it is used. */
export function trustedDispatcher(undici: Undici, trust: CertificateTrust, timeoutMs: number, bodyTimeoutMs = 5 * 60_000): UndiciAgent {
  const connect: buildConnector.connector = (opts, callback) => {
    const port = Number(opts.port) || 443
    const host = opts.hostname.replace(/^\[|\]$/g, '')
    const socket = openTls(host, port)
    const timer = setTimeout(() => socket.destroy(new Error('ETIMEDOUT')), timeoutMs)
    socket.once('secureConnect', () => {
      clearTimeout(timer)
      const problem = trust.check(socket, host, port)
      if (problem) {
        socket.destroy()
        callback(problem, null)
      } else callback(null, socket)
    })
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      callback(networkError(err, host, port), null)
    })
  }
  return new undici.Agent({ connect, headersTimeout: bodyTimeoutMs, bodyTimeout: bodyTimeoutMs })
}

/** The same check for node:https (xen-api's own HTTP transfers). */
export class TrustedHttpsAgent extends HttpsAgent {
  constructor(
    private readonly trust: CertificateTrust,
    options: AgentOptions = {},
  ) {
    super({ keepAlive: true, ...options })
  }

  /**
   * Hands the socket over only after the handshake and the check (returning it synchronously would let the
   * request write headers, which carry the session id, before the certificate was checked).
   */
  override createConnection(options: RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): undefined {
    const host = (options.hostname ?? options.host ?? 'localhost').replace(/^\[|\]$/g, '')
    const port = Number(options.port) || 443
    const socket = openTls(host, port)
    socket.once('secureConnect', () => {
      const problem = this.trust.check(socket, host, port)
      if (problem) {
        socket.destroy()
        callback?.(problem, socket)
      } else callback?.(null, socket)
    })
    socket.once('error', (err: NodeJS.ErrnoException) => callback?.(networkError(err, host, port), socket))
    return undefined
  }
}
