import { createServer, connect, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { ByteQueue } from './byte-queue'
import { exportName, go, greet, haggle, IHAVEOPT, NBDMAGIC, OPT_EXPORT_NAME, OPT_GO, OPT_REPLY_MAGIC, OPT_STRUCTURED_REPLY, REP_ACK, REP_INFO } from './handshake'

/** A scripted NBD server: `script` gets the server's end of one connection. */
let server: Server | undefined
async function serve(script: (peer: Socket) => void): Promise<Socket> {
  server = createServer(script)
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  const client = connect(address.port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject))
  return client
}
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
  server = undefined
})

const bad = (why: string) => new Error(`bad: ${why}`)
const hello = (flags = 3) => Buffer.concat([NBDMAGIC, be64(IHAVEOPT), be16(flags)])
const reply = (opt: number, type: number, payload = Buffer.alloc(0)) => Buffer.concat([be64(OPT_REPLY_MAGIC), be32(opt), be32(type), be32(payload.length), payload])
function be16(n: number): Buffer {
  const b = Buffer.alloc(2)
  b.writeUInt16BE(n)
  return b
}
function be32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}
function be64(n: bigint): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(n)
  return b
}
const infoExport = (size: bigint) => Buffer.concat([be16(0), be64(size), be16(0)])

describe('NBD greeting and options against hostile servers', () => {
  it('greets a fixed-newstyle server and reads the export size; error replies carry the server message, cleaned', async () => {
    const seen: Buffer[] = []
    const client = await serve((peer) => {
      peer.write(hello())
      peer.on('data', (d: Buffer) => {
        seen.push(d)
        const all = Buffer.concat(seen)
        // client flags (4) + structured-reply option (16): refused with a message holding control characters
        if (all.length === 20) peer.write(reply(OPT_STRUCTURED_REPLY, 0x80000001, Buffer.from('no\x1b[31m structured\n replies')))
        // + NBD_OPT_GO (16 + 4 + name + 2): info, then ack
        if (all.length === 20 + 16 + 4 + 4 + 2) peer.write(Buffer.concat([reply(OPT_GO, REP_INFO, infoExport(5n * 1024n ** 3n)), reply(OPT_GO, REP_ACK)]))
      })
    })
    const queue = new ByteQueue(client)
    await greet(queue, client, bad)
    await expect(haggle(queue, client, OPT_STRUCTURED_REPLY, Buffer.alloc(0), bad)).rejects.toThrow('bad: the server refused structured replies (error 1: no[31m structured replies)')
    expect(await go(queue, client, 'vda1', 2 ** 50, bad)).toBe(5 * 1024 ** 3)
    const sent = Buffer.concat(seen)
    expect(sent.readUInt32BE(0)).toBe(3) // fixed newstyle + no zeroes, as offered
    expect(sent.subarray(36 + 4, 36 + 8).toString()).toBe('vda1')
    client.destroy()
  })

  it('refuses what is not NBD, not fixed newstyle, out of step, oversized or endless', async () => {
    const cases: { send: (opt: number) => Buffer; error: string; greetOnly?: boolean }[] = [
      { send: () => Buffer.concat([Buffer.from('SSH-2.0-'), Buffer.alloc(10)]), error: 'not an NBD newstyle server', greetOnly: true },
      { send: () => hello(0), error: 'does not speak fixed newstyle', greetOnly: true },
      { send: () => reply(OPT_STRUCTURED_REPLY, REP_ACK), error: 'option reply out of step' },
      { send: (opt) => Buffer.concat([be64(OPT_REPLY_MAGIC), be32(opt), be32(REP_INFO), be32(1024 * 1024)]), error: 'option reply too long' },
      { send: (opt) => reply(opt, REP_INFO, infoExport(2n ** 60n)), error: 'impossible export size' },
      { send: (opt) => reply(opt, REP_ACK), error: 'did not say how big the export is' },
      { send: (opt) => Buffer.concat(Array.from({ length: 10_001 }, () => reply(opt, REP_INFO, Buffer.alloc(2)))), error: 'too many option replies' },
    ]
    for (const c of cases) {
      const client = await serve((peer) => {
        if (c.greetOnly === true) return void peer.write(c.send(OPT_GO))
        peer.write(hello())
        peer.once('data', () => peer.write(c.send(OPT_GO)))
      })
      const queue = new ByteQueue(client)
      const run = async () => {
        await greet(queue, client, bad)
        await go(queue, client, 'x', 2 ** 50, bad)
      }
      await expect(run(), c.error).rejects.toThrow(c.error)
      client.destroy()
      await new Promise<void>((resolve) => server?.close(() => resolve()))
      server = undefined
    }
  })

  it('opens an export with NBD_OPT_EXPORT_NAME: 134-byte answer without no-zeroes, 10 bytes with it, a close is a refusal', async () => {
    for (const flags of [1, 3]) {
      const seen: Buffer[] = []
      const client = await serve((peer) => {
        peer.write(hello(flags))
        peer.on('data', (d: Buffer) => {
          seen.push(d)
          // client flags (4) + option header (16) + name (5); then the answer, and a marker the client must not eat
          if (Buffer.concat(seen).length === 25) peer.write(Buffer.concat([be64(3n * 1024n ** 3n), be16(3), Buffer.alloc(flags === 3 ? 0 : 124), Buffer.from('NEXT')]))
        })
      })
      const queue = new ByteQueue(client)
      const greeting = await greet(queue, client, bad)
      expect(greeting.noZeroes).toBe(flags === 3)
      expect(await exportName(queue, client, '/disk', greeting, 2 ** 50, bad)).toBe(3 * 1024 ** 3)
      expect((await queue.read(4)).toString()).toBe('NEXT')
      const sent = Buffer.concat(seen)
      expect(sent.readUInt32BE(0)).toBe(flags)
      expect(sent.readUInt32BE(12)).toBe(OPT_EXPORT_NAME)
      expect(sent.subarray(20).toString()).toBe('/disk')
      client.destroy()
      await new Promise<void>((resolve) => server?.close(() => resolve()))
      server = undefined
    }
    const refused = await serve((peer) => {
      peer.write(hello(1))
      peer.on('data', () => peer.end())
    })
    const queue = new ByteQueue(refused)
    await expect(exportName(queue, refused, '/gone', await greet(queue, refused, bad), 2 ** 50, bad)).rejects.toThrow('bad: the server closed the connection instead of opening the export')
    refused.destroy()
  })

  it('a connection that ends mid-reply fails the read instead of waiting', async () => {
    const client = await serve((peer) => peer.end(hello().subarray(0, 10)))
    await expect(greet(new ByteQueue(client), client, bad)).rejects.toThrow('the connection closed')
  })
})

describe('ByteQueue', () => {
  it('pauses a peer that sends faster than it is read, and says how much was left unread when detached', async () => {
    const big = Buffer.alloc(48 * 1024 * 1024, 7)
    const client = await serve((peer) => peer.write(big))
    const queue = new ByteQueue(client)
    await expect.poll(() => client.isPaused(), { timeout: 10_000 }).toBe(true)
    const first = await queue.read(40 * 1024 * 1024)
    expect(first.length).toBe(40 * 1024 * 1024)
    await expect.poll(() => client.isPaused(), { timeout: 10_000 }).toBe(false)
    await queue.read(8 * 1024 * 1024 - 3)
    await expect.poll(() => queue.detach()).toBe(3)
    client.destroy()
  })
})
