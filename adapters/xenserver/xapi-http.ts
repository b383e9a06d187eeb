import { Readable } from 'node:stream'
import type { Agent } from 'undici'
import type { Undici } from './lazy-modules'
import { AdapterError } from '../host-adapter'

export interface TransferOptions {
  /** Query parameters besides session_id (vdi=, format=, base=, task_id=, sr_id= …). */
  readonly query: Readonly<Record<string, string>>
  readonly signal: AbortSignal
  /** The pool member that holds the data (a local SR on a member); default the master. */
  readonly host?: string
}

export interface SessionSource {
  readonly sessionId: string
  readonly masterAddress: string
  readonly port: number
}

const MAX_REDIRECTS = 3
/**
 * How much of a response body undici holds before it stops reading the socket. Small on purpose: a backup reads a
 * disk export slower than the link delivers it (hashing and compressing set the pace), and whatever waits here
 * waits as TLS read buffers on the JavaScript heap, where they outlive the young generation and, as external
 * memory, force full garbage collections — measured on a 1 GiB export: 82 with 4 MiB here, 12 with 128 KiB, and
 * 15 % less CPU. The kernel's socket buffers hold the rest of what is in flight.
 */
const BODY_BUFFER = 128 * 1024
const bracket = (host: string) => (host.includes(':') && !host.startsWith('[') ? `[${host}]` : host)

async function errorText(body: Readable, max = 500): Promise<string> {
  let text = ''
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (text.length < max) text += chunk.toString('utf8')
  }
  return text.slice(0, max).replace(/[^\x20-\x7e]+/g, ' ').trim()
}

function statusError(status: number, path: string, text: string): AdapterError {
  if (status === 401 || status === 403) return new AdapterError('COMMAND_FAILED', `The pool refused ${path}: the session is not valid (HTTP ${status}).`, { status, xapiCode: 'SESSION_INVALID' })
  if (status === 404) return new AdapterError('NOT_FOUND', `The pool does not know what ${path} asked for (HTTP 404).`, { status })
  const code = /\b([A-Z][A-Z0-9_]{3,80})\b/.exec(text)?.[1]
  return new AdapterError('COMMAND_FAILED', `The pool refused ${path} (HTTP ${status})${text ? `: ${text}` : ''}.`, { status, ...(code !== undefined ? { xapiCode: code } : {}) })
}

/**
 * The first `n` bytes of a body (fewer if it ends sooner), put back so the reader still gets them from the start.
 */
function peek(body: Readable, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const done = (head: Buffer) => {
      body.off('readable', onReadable).off('end', onEnd).off('error', reject)
      if (head.length > 0) body.unshift(head)
      resolve(head)
    }
    const onReadable = () => {
      const head = body.read(n) as Buffer | null
      if (head !== null) done(head)
    }
    const onEnd = () => done(Buffer.alloc(0))
    body.on('readable', onReadable).once('end', onEnd).once('error', reject)
  })
}

/**
 * XAPI sends the 200 header of /export_raw_vdi before it attaches the VDI; when that fails, the body is a whole
 * "HTTP/1.1 500" response naming the error (what Xen Orchestra's checkVdiExport looks for; xen-api issue 4603).
 */
async function embeddedError(body: Readable, path: string): Promise<AdapterError | undefined> {
  const head = await peek(body, 5)
  if (head.toString('latin1') !== 'HTTP/') return undefined
  const text = await errorText(body, 2048)
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 500)
  const info = /Additional information\s*<\/h1>\s*([^<]{1,400})/i.exec(text)?.[1]?.trim()
  const code = info === undefined ? undefined : /^([A-Z][A-Z0-9_]{3,80})\b/.exec(info)?.[1]
  return new AdapterError('COMMAND_FAILED', `The pool failed ${path} after accepting it (HTTP ${status} inside the data)${info !== undefined ? `: ${info}` : ''}.`, { status, embedded: true, ...(code !== undefined ? { xapiCode: code } : {}) })
}

/**
 * XAPI's HTTP handlers (/export_raw_vdi, /import_raw_vdi, /export, /import) on the same verified connections as the
 * RPC calls: every hop of a redirect to another pool member is checked against that member's certificate as the
 * master reported it. The session id travels only over such connections.
 */
export class XapiHttp {
  constructor(
    private readonly session: SessionSource,
    private readonly dispatcher: Agent,
    private readonly request: Undici['request'],
  ) {}

  private url(path: string, options: TransferOptions): URL {
    const url = new URL(`https://${bracket(options.host ?? this.session.masterAddress)}:${this.session.port}${path}`)
    url.search = new URLSearchParams({ session_id: this.session.sessionId, ...options.query }).toString()
    return url
  }

  /** A GET whose body streams at link speed; follows XAPI's redirects to the member that holds the data. */
  async get(path: string, options: TransferOptions): Promise<{ body: Readable; length: number | undefined }> {
    let url = this.url(path, options)
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      let res
      try {
        res = await this.request(url, { method: 'GET', dispatcher: this.dispatcher, signal: options.signal, highWaterMark: BODY_BUFFER })
      } catch (err) {
        throw transferError(err, path, options.signal)
      }
      if (res.statusCode === 302 || res.statusCode === 301 || res.statusCode === 307) {
        const location = res.headers.location
        await res.body.dump().catch(() => undefined)
        url = redirectTarget(url, typeof location === 'string' ? location : undefined, path)
        continue
      }
      if (res.statusCode < 200 || res.statusCode > 299) throw statusError(res.statusCode, path, await errorText(res.body))
      const header = res.headers['content-length']
      const length = typeof header === 'string' && /^\d{1,16}$/.test(header) ? Number(header) : undefined
      const failed = await embeddedError(res.body, path).catch((err: unknown) => {
        throw transferError(err, path, options.signal)
      })
      if (failed !== undefined) throw failed
      return { body: res.body, length }
    }
    throw new AdapterError('BAD_RESPONSE', `${path} was redirected more than ${MAX_REDIRECTS} times.`)
  }

  /**
   * Where a PUT has to go. XAPI redirects an upload for another member's local SR (302, "Connection: close") without
   * reading the body, and closes the connection under a body already on its way: the client meets a reset and may
   * never see the 302 (xen-api importexport.ml `return_302_redirect`, import.ml). So, as Xen Orchestra's
   * putResource does, the way is first asked with an empty body — and without `task_id`, so that a probe the
   * target host does take up (an empty upload, which fails or writes nothing) never touches the transfer's task —
   * and the data goes only to the address the probe ends at, with the caller's query.
   */
  private async probe(path: string, options: TransferOptions): Promise<URL> {
    let url = this.url(path, options)
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const probe = new URL(url)
      probe.searchParams.delete('task_id')
      let res
      try {
        res = await this.request(probe, { method: 'PUT', dispatcher: this.dispatcher, signal: options.signal, headers: { 'content-length': '0' }, body: '' })
      } catch (err) {
        throw transferError(err, path, options.signal)
      }
      await res.body.dump().catch(() => undefined)
      if (res.statusCode !== 302 && res.statusCode !== 301 && res.statusCode !== 307) return url
      const location = res.headers.location
      const next = redirectTarget(probe, typeof location === 'string' ? location : undefined, path)
      // The member gets the caller's query (session, task), not what the probe asked with.
      next.search = url.search
      url = next
    }
    throw new AdapterError('BAD_RESPONSE', `${path} was redirected more than ${MAX_REDIRECTS} times.`)
  }

  /**
   * A PUT with a known length (XAPI takes no chunked uploads), sent where an empty probe found it must go (see
   * `probe`). `body` is called again should XAPI still redirect the upload itself.
   */
  async put(path: string, options: TransferOptions & { readonly length: number; readonly body: () => AsyncIterable<Uint8Array> }): Promise<void> {
    let url = await this.probe(path, options)
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      let res
      try {
        res = await this.request(url, {
          method: 'PUT',
          dispatcher: this.dispatcher,
          signal: options.signal,
          headers: { 'content-length': String(options.length), 'content-type': 'application/octet-stream' },
          body: Readable.from(options.body(), { objectMode: false }),
        })
      } catch (err) {
        throw transferError(err, path, options.signal)
      }
      if (res.statusCode === 302 || res.statusCode === 301 || res.statusCode === 307) {
        const location = res.headers.location
        await res.body.dump().catch(() => undefined)
        url = redirectTarget(url, typeof location === 'string' ? location : undefined, path)
        continue
      }
      if (res.statusCode < 200 || res.statusCode > 299) throw statusError(res.statusCode, path, await errorText(res.body))
      await res.body.dump().catch(() => undefined)
      return
    }
    throw new AdapterError('BAD_RESPONSE', `${path} was redirected more than ${MAX_REDIRECTS} times.`)
  }
}

function redirectTarget(from: URL, location: string | undefined, path: string): URL {
  if (location === undefined || location.length > 8192) throw new AdapterError('BAD_RESPONSE', `${path} was redirected without a usable location.`)
  const next = new URL(location, from)
  if (next.protocol !== 'https:') throw new AdapterError('TLS_FAILED', `XAPI redirected ${path} to a non-TLS address (${next.protocol}); Lifeboat does not send the session there.`)
  return next
}

export function transferError(err: unknown, path: string, signal: AbortSignal): AdapterError {
  if (signal.aborted) return new AdapterError('CANCELLED', `${path} was cancelled.`)
  if (err instanceof AdapterError) return err
  const cause = (err as { cause?: unknown } | undefined)?.cause
  if (cause instanceof AdapterError) return cause
  const message = err instanceof Error ? err.message : String(err)
  return new AdapterError('CONNECTION_LOST', `The transfer ${path} failed: ${message.slice(0, 300)}`, {}, { cause: err })
}
