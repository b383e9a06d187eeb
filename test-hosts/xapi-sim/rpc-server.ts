import { createServer, type Server } from 'node:https'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { SimCore, SimHost } from './core'
import type { XapiValue } from './datamodel-values'
import type { Dispatcher } from './dispatch'
import { XapiFault } from './errors'
import { parseXmlRpcCall, xmlRpcFailure, xmlRpcSuccess } from './rpc-xml'

const MAX_BODY = 16 * 1024 * 1024
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function body(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = []
  let total = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length
    if (total > MAX_BODY) throw new Error('request too large')
    parts.push(chunk)
  }
  return Buffer.concat(parts).toString('utf8')
}

function toFault(err: unknown): XapiFault {
  if (err instanceof XapiFault) return err
  return new XapiFault('INTERNAL_ERROR', [err instanceof Error ? err.message : String(err)])
}

/**
 * One host's HTTPS listener: JSON-RPC on POST /jsonrpc, XML-RPC on POST / (also /RPC2 and /xmlrpc), and the HTTP
 * transfer handlers. The slow-responses fault delays every RPC answer.
 */
export function startRpcServer(
  core: SimCore,
  host: SimHost,
  dispatcher: Dispatcher,
  transfers: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>,
  port: number,
): Promise<Server> {
  const server = createServer({ cert: host.certPem, key: host.keyPem, keepAlive: true }, (req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' })
      res.end(err instanceof Error ? err.message : String(err))
    })
  })
  server.keepAliveTimeout = 30_000

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const address = server.address()
    const url = new URL(req.url ?? '/', `https://${host.address}:${address !== null && typeof address === 'object' ? address.port : port}`)
    if (await transfers(req, res, url)) return
    if (req.method !== 'POST') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
      return
    }
    const abort = new AbortController()
    res.on('close', () => abort.abort())
    const text = await body(req)
    if (core.faults.slowMs > 0) await sleep(core.faults.slowMs)
    if (url.pathname === '/jsonrpc') {
      let id: XapiValue = null
      let v2 = true
      try {
        const call = JSON.parse(text) as { jsonrpc?: string; method?: unknown; params?: unknown; id?: XapiValue }
        id = call.id ?? null
        v2 = call.jsonrpc === '2.0'
        if (typeof call.method !== 'string' || !Array.isArray(call.params)) throw new XapiFault('MESSAGE_PARAMETER_COUNT_MISMATCH', ['', '0', '0'])
        const answer = await dispatcher.call(host, call.method, call.params as XapiValue[], abort.signal)
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(v2 ? { jsonrpc: '2.0', result: answer.value, id } : { result: answer.value, error: null, id }))
      } catch (err) {
        const f = toFault(err)
        const error = { code: 1, message: f.code, data: [...f.params] }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(v2 ? { jsonrpc: '2.0', error, id } : { result: null, error, id }))
      }
      return
    }
    if (url.pathname === '/' || url.pathname === '/RPC2' || url.pathname === '/xmlrpc') {
      const fieldType = (cls: string, field: string) => core.model.fieldType(cls, field)
      try {
        const call = parseXmlRpcCall(text)
        const answer = await dispatcher.call(host, call.method, call.params, abort.signal)
        res.writeHead(200, { 'content-type': 'text/xml' }).end(xmlRpcSuccess(answer.value, answer.type, fieldType))
      } catch (err) {
        const f = toFault(err)
        res.writeHead(200, { 'content-type': 'text/xml' }).end(xmlRpcFailure(f.code, f.params))
      }
      return
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
  }

  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host.address, () => {
      server.off('error', reject)
      resolve(server)
    })
  })
}
