import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { WebSocket } from 'ws'
import { isTopicName, type TopicName } from '../api/contract'
import {
  BRIDGE_PATH,
  BRIDGE_PROTOCOL,
  CLOSE_BAD_MESSAGE,
  CLOSE_LINK_USED,
  CLOSE_UNAUTHORIZED,
  ClientMessageSchema,
  MAX_FRAME_BYTES,
  type ServerMessage,
} from '../api/contract-bridge'
import { ApiError } from '../api/contract-errors'
import { dispatch } from '../api/dispatch'
import type { Engine } from '../engine'
import { createBridgeAccess } from './bridge-access'
import { serveStatic } from './static-files'

export interface BridgeOptions {
  readonly engine: Pick<Engine, 'handlers' | 'events'>
  readonly staticDir: string
  readonly port?: number
  /** The first link token; defaults to a fresh random one, tests may fix one. */
  readonly token?: string
}

export interface BridgeServer {
  /** The link to open: it carries the first one-time link token. */
  readonly url: string
  readonly port: number
  readonly token: string
  /** A fresh one-time link, for when the first one was used up or its tab was closed. */
  newLink(): string
  /** Called with each link token as its link is used. */
  onLinkUsed(listener: (token: string) => void): () => void
  close(): Promise<void>
}

const HELLO_TIMEOUT_MS = 5000

/**
 * The web bridge: the built renderer and the API over one WebSocket, on 127.0.0.1 only. Three locks on the
 * door: the socket binds to loopback; the Host and Origin headers must name this very server (defeats DNS
 * rebinding and other web pages); and the first frame must carry the one-time link token printed at start
 * (then exchanged for a per-tab session secret, see bridge-access.ts). A misbehaving client — malformed frames,
 * resets, oversized messages — loses its own connection and nothing else: running jobs live in this process.
 */
export async function startBridgeServer(options: BridgeOptions): Promise<BridgeServer> {
  const token = options.token ?? randomBytes(32).toString('base64url')
  const access = createBridgeAccess(token)
  let port = 0
  const linkFor = (linkToken: string) => `http://127.0.0.1:${port}/#token=${linkToken}`
  const allowedHosts = () => new Set([`127.0.0.1:${port}`, `localhost:${port}`])
  const allowedOrigins = () => new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`])
  const securityHeaders = () => ({
    'Content-Security-Policy': [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' data:",
      "font-src 'self'",
      `connect-src 'self' ws://127.0.0.1:${port} ws://localhost:${port}`,
      "object-src 'none'",
      "base-uri 'none'",
      "frame-ancestors 'none'",
      "form-action 'none'",
    ].join('; '),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
  })

  const server: Server = createServer((req, res) => {
    if (!allowedHosts().has(req.headers.host ?? '')) {
      res.writeHead(421, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Lifeboat answers only on 127.0.0.1.')
      return
    }
    void serveStatic(options.staticDir, req, res, securityHeaders())
  })

  // Loaded here, not at the top: every CLI command would pay for it, and only `serve` and the app use it.
  const { WebSocketServer } = await import('ws')
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    handleProtocols: (protocols) => (protocols.has(BRIDGE_PROTOCOL) ? BRIDGE_PROTOCOL : false),
  })
  // An 'error' without a listener is thrown: it would end the process and every backup running in it.
  wss.on('error', () => undefined)
  server.on('error', () => undefined)

  server.on('upgrade', (req: IncomingMessage, socket, head) => {
    socket.on('error', () => socket.destroy())
    const url = new URL(req.url ?? '/', 'http://localhost')
    const originOk = allowedOrigins().has(req.headers.origin ?? '')
    const hostOk = allowedHosts().has(req.headers.host ?? '')
    if (url.pathname !== BRIDGE_PATH || !originOk || !hostOk) {
      socket.write('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n')
      socket.destroy()
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => serveConnection(ws))
  })

  function serveConnection(ws: WebSocket): void {
    let authenticated = false
    const subscriptions = new Set<TopicName>()
    const calls = new AbortController()
    const send = (msg: ServerMessage) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg))
    }
    const helloTimer = setTimeout(() => ws.close(CLOSE_UNAUTHORIZED, 'No hello'), HELLO_TIMEOUT_MS)
    const unsubscribe = options.engine.events.onAny((topic, payload) => {
      if (authenticated && subscriptions.has(topic)) send({ type: 'event', topic, payload })
    })
    // Malformed frames (bad masking, invalid UTF-8, over the size limit) and resets end up here.
    ws.on('error', () => ws.terminate())
    ws.on('close', () => {
      clearTimeout(helloTimer)
      unsubscribe()
      calls.abort(new ApiError('CANCELLED', 'The browser window went away.'))
    })
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        ws.close(CLOSE_BAD_MESSAGE, 'Text frames only')
        return
      }
      let parsed
      try {
        const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(new Uint8Array(data)).toString('utf8')
        parsed = ClientMessageSchema.safeParse(JSON.parse(text))
      } catch {
        parsed = undefined
      }
      if (!parsed?.success) {
        if (!authenticated) ws.close(CLOSE_BAD_MESSAGE, 'Bad message')
        else send({ type: 'error', error: new ApiError('INVALID_INPUT', 'The bridge received a message it does not understand.').toJSON() })
        return
      }
      const msg = parsed.data
      if (!authenticated) {
        const admission = access.admit(msg.type === 'hello' ? msg.token : '')
        if (admission.kind === 'exchanged' || admission.kind === 'session') {
          authenticated = true
          clearTimeout(helloTimer)
          send(admission.kind === 'exchanged' ? { type: 'welcome', session: admission.session } : { type: 'welcome' })
        } else if (admission.kind === 'link-used') ws.close(CLOSE_LINK_USED, 'This link was already used')
        else ws.close(CLOSE_UNAUTHORIZED, 'Unauthorized')
        return
      }
      switch (msg.type) {
        case 'hello':
          return
        case 'subscribe':
        case 'unsubscribe':
          if (!isTopicName(msg.topic)) {
            send({ type: 'error', error: new ApiError('INVALID_INPUT', `There is no event topic "${msg.topic}".`).toJSON() })
            return
          }
          if (msg.type === 'subscribe') subscriptions.add(msg.topic)
          else subscriptions.delete(msg.topic)
          return
        case 'invoke':
          void dispatch(options.engine.handlers, msg.channel, msg.input, { signal: calls.signal }).then((envelope) =>
            send(envelope.ok ? { type: 'result', id: msg.id, ok: true, value: envelope.value } : { type: 'result', id: msg.id, ok: false, error: envelope.error }),
          )
      }
    })
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  port = (server.address() as AddressInfo).port
  return {
    url: linkFor(token),
    port,
    token,
    newLink: () => linkFor(access.issueLinkToken()),
    onLinkUsed: (listener) => access.onLinkUsed(listener),
    close: async () => {
      for (const client of wss.clients) client.terminate()
      wss.close()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
