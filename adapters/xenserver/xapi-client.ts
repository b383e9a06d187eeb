import { Xapi, type XapiOptions } from 'xen-api'
import { AdapterError, throwIfAborted } from '../host-adapter'
import { PinnedHttpsAgent, pinnedDispatcher, probeCertificate } from './pinned-tls'

export interface XapiConnectOptions {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: string
  readonly pinnedFingerprint?: string
  readonly timeoutMs: number
}

/** XAPI error codes that mean "the credentials are wrong", per the XAPI datamodel's error list. */
const authErrors = new Set(['SESSION_AUTHENTICATION_FAILED', 'SESSION_AUTHORIZATION_FAILED', 'RBAC_PERMISSION_DENIED'])

/**
 * A typed, pinned XAPI session over the `xen-api` package. The package's own TLS handling only knows "verify
 * against CAs" or "allow anything"; Lifeboat swaps in connections that check the certificate fingerprint the
 * admin confirmed, for JSON-RPC calls and for HTTP transfers alike.
 */
export class XapiClient {
  private constructor(
    private readonly xapi: Xapi,
    readonly fingerprint: string,
  ) {}

  static async open(options: XapiConnectOptions, signal: AbortSignal): Promise<XapiClient> {
    throwIfAborted(signal, 'Connecting')
    // Unknown or changed certificate: stop here, before any credential is sent.
    await probeCertificate(options.host, options.port, options.pinnedFingerprint, options.timeoutMs, signal)
    const pinned = options.pinnedFingerprint
    if (pinned === undefined) throw new AdapterError('HOST_KEY_UNKNOWN', 'The certificate must be confirmed first.')

    const dispatcher = pinnedDispatcher(pinned, options.timeoutMs)
    const agent = new PinnedHttpsAgent(pinned)
    class PinnedXapi extends Xapi {
      protected override _setUrl(url: unknown): void {
        this._undiciDispatcher = dispatcher
        this._httpAgent = agent
        super._setUrl(url)
      }
    }
    const host = options.host.includes(':') ? `[${options.host}]` : options.host
    const xapiOptions: XapiOptions = {
      url: `https://${host}:${options.port}`,
      auth: { user: options.user, password: options.password },
      // Certificates are checked by the pinned connections above; this only stops xen-api from also demanding
      // a CA-signed certificate, which self-signed XenServer hosts never have.
      allowUnauthorized: true,
      watchEvents: false,
      callTimeout: options.timeoutMs,
      transport: 'json-rpc',
    }
    const xapi = new PinnedXapi(xapiOptions)
    const onAbort = () => void xapi.disconnect().catch(() => undefined)
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      await xapi.connect()
    } catch (err) {
      await xapi.disconnect().catch(() => undefined)
      if (signal.aborted) throw new AdapterError('CANCELLED', 'Connecting was cancelled.')
      throw mapXapiError(err, options)
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
    return new XapiClient(xapi, pinned)
  }

  /** Calls a XAPI method with the session; the result is unknown until the caller parses it with a schema. */
  async call(method: string, ...args: unknown[]): Promise<unknown> {
    try {
      return await this.xapi.call(method, ...args)
    } catch (err) {
      throw mapXapiError(err)
    }
  }

  async close(): Promise<void> {
    await this.xapi.disconnect().catch(() => undefined)
  }
}

function mapXapiError(err: unknown, options?: XapiConnectOptions): AdapterError {
  if (err instanceof AdapterError) return err
  const cause = (err as { cause?: unknown } | undefined)?.cause
  if (cause instanceof AdapterError) return cause
  const code = (err as { code?: unknown } | undefined)?.code
  const params = (err as { params?: unknown } | undefined)?.params
  if (typeof code === 'string' && authErrors.has(code)) {
    return new AdapterError('AUTH_FAILED', `The pool refused the user name or password${options ? ` for ${options.user}` : ''}.`, { xapiCode: code }, { cause: err })
  }
  if (typeof code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(code)) {
    const detail = Array.isArray(params) ? params.filter((p) => typeof p === 'string').slice(0, 4).join(', ') : ''
    return new AdapterError('COMMAND_FAILED', `XAPI refused the request: ${code}${detail ? ` (${detail})` : ''}.`, { xapiCode: code }, { cause: err })
  }
  const message = err instanceof Error ? err.message : String(err)
  return new AdapterError('CONNECTION_LOST', `The connection to XAPI failed: ${message}`, {}, { cause: err })
}
