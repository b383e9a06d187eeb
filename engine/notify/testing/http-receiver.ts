import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Received {
  readonly method: string
  readonly url: string
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

/** How the receiver answers the n-th request (0-based): a status, or 'hang' (never answers). */
export type Answer = number | 'hang'

export interface HttpReceiver extends AsyncDisposable {
  readonly base: string
  readonly received: Received[]
}

/** A local HTTP server standing in for Slack, ntfy, Gotify…: it keeps every request and answers as told. */
export async function startReceiver(answer: (n: number) => Answer = () => 200): Promise<HttpReceiver> {
  const received: Received[] = []
  const hanging: ServerResponse[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const n = received.length
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') })
      const a = answer(n)
      if (a === 'hang') {
        hanging.push(res)
        return
      }
      // Like many servers, a refusal names the path it refused: where a webhook's key is.
      res.writeHead(a, { 'content-type': 'text/plain' }).end(a < 300 ? 'ok' : `receiver says no to ${req.url ?? ''}`)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    base: `http://127.0.0.1:${port}`,
    received,
    async [Symbol.asyncDispose]() {
      for (const res of hanging) res.destroy()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
