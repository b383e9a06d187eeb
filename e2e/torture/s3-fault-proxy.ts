/**
 * A fault-injecting HTTP proxy on 127.0.0.1 in front of an S3 server: what a flaky object store looks like to the
 * S3 client — 500 InternalError, 503 SlowDown with Retry-After, answers that take seconds, and connections reset
 * before or in the middle of an answer. Faults hit a random share of requests (seeded), so a run can be replayed.
 */
import { createServer, request as httpRequest, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Prng } from './prng'

export type S3Fault =
  | { readonly kind: 'none' }
  | { readonly kind: 'status'; readonly status: 500 | 503; readonly rate: number; readonly retryAfterSec?: number }
  | { readonly kind: 'slow'; readonly rate: number; readonly delayMs: number }
  | { readonly kind: 'reset'; readonly rate: number }

export interface S3FaultProxy extends AsyncDisposable {
  readonly endpoint: string
  setFault(fault: S3Fault): void
  readonly stats: { requests: number; faults: number }
}

const ERROR_BODY: Record<500 | 503, string> = {
  500: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>',
  503: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>',
}

export async function startS3FaultProxy(target: { host: string; port: number }, prng: Prng): Promise<S3FaultProxy> {
  let fault: S3Fault = { kind: 'none' }
  const stats = { requests: 0, faults: 0 }
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  const upstreams = new Set<ClientRequest>()

  const forward = (req: IncomingMessage, res: ServerResponse, cutMidAnswer: boolean): void => {
    const upstream = httpRequest({ host: target.host, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      if (!cutMidAnswer) {
        answer.pipe(res)
        return
      }
      // Let the first bytes through, then drop the connection: a body that stops half-way.
      answer.once('data', (first: Buffer) => {
        res.write(first.subarray(0, Math.max(1, first.length >> 1)))
        answer.destroy()
        req.socket.destroy()
      })
      answer.once('end', () => req.socket.destroy())
    })
    upstreams.add(upstream)
    upstream.once('close', () => upstreams.delete(upstream))
    upstream.on('error', () => req.socket.destroy())
    // A client that went away half-way through its request (a reset, a killed Lifeboat) must not leave the
    // forwarded request waiting for the rest of its body: S3 would hold that connection open for ever.
    req.once('close', () => {
      if (!req.complete) upstream.destroy()
    })
    req.pipe(upstream)
  }

  const server = createServer((req, res) => {
    stats.requests++
    const f = fault
    const hit = f.kind !== 'none' && prng.next() < f.rate
    if (!hit) {
      forward(req, res, false)
      return
    }
    stats.faults++
    switch (f.kind) {
      case 'status': {
        req.resume()
        req.once('end', () => {
          res.writeHead(f.status, {
            'content-type': 'application/xml',
            ...(f.retryAfterSec !== undefined ? { 'retry-after': String(f.retryAfterSec) } : {}),
          })
          res.end(ERROR_BODY[f.status])
        })
        return
      }
      case 'slow': {
        const timer = setTimeout(() => {
          timers.delete(timer)
          forward(req, res, false)
        }, f.delayMs)
        timers.add(timer)
        return
      }
      case 'reset':
        if (prng.next() < 0.5) req.socket.destroy()
        else forward(req, res, true)
        return
    }
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats,
    setFault(next) {
      fault = next
    },
    async [Symbol.asyncDispose]() {
      for (const t of timers) clearTimeout(t)
      for (const s of sockets) s.destroy()
      for (const u of upstreams) u.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** Draws one S3 fault for a run: its kind, how many requests it hits, how slow. */
export function drawS3Fault(prng: Prng): S3Fault {
  const rate = prng.int(15, 45) / 100
  switch (prng.pick(['500', '503', 'slow', 'reset'] as const)) {
    case '500':
      return { kind: 'status', status: 500, rate }
    case '503':
      return { kind: 'status', status: 503, rate, retryAfterSec: prng.int(0, 2) }
    case 'slow':
      return { kind: 'slow', rate, delayMs: prng.int(500, 4000) }
    case 'reset':
      return { kind: 'reset', rate }
  }
}

export function describeS3Fault(f: S3Fault): string {
  switch (f.kind) {
    case 'none':
      return 'no fault'
    case 'status':
      return `${f.status}${f.retryAfterSec !== undefined ? ` (Retry-After ${f.retryAfterSec} s)` : ''} on ${Math.round(f.rate * 100)} % of requests`
    case 'slow':
      return `${f.delayMs} ms delay on ${Math.round(f.rate * 100)} % of requests`
    case 'reset':
      return `connection reset on ${Math.round(f.rate * 100)} % of requests`
  }
}
