import { connect, createServer, type AddressInfo, type Socket } from 'node:net'

/** A TCP relay on 127.0.0.1 whose connections the test can cut (and keep refusing) and then let through again. */
export interface CutProxy extends AsyncDisposable {
  readonly port: number
  /** Drops every open connection, and every new one until heal(). */
  cut(): void
  heal(): void
}

export async function startCutProxy(targetPort: number): Promise<CutProxy> {
  let cutting = false
  const sockets = new Set<Socket>()
  const track = (s: Socket) => {
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
    s.on('error', () => s.destroy())
  }
  const server = createServer((client) => {
    track(client)
    if (cutting) {
      client.destroy()
      return
    }
    const upstream = connect(targetPort, '127.0.0.1')
    track(upstream)
    client.pipe(upstream)
    upstream.pipe(client)
    client.once('close', () => upstream.destroy())
    upstream.once('close', () => client.destroy())
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  return {
    port: (server.address() as AddressInfo).port,
    cut() {
      cutting = true
      for (const s of sockets) s.destroy()
    },
    heal() {
      cutting = false
    },
    async [Symbol.asyncDispose]() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
