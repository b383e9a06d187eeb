import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { BRIDGE_PROTOCOL, CLOSE_LINK_USED, CLOSE_UNAUTHORIZED } from '../api/contract-bridge'
import { createEngine, type Engine } from '../engine'
import { startBridgeServer, type BridgeServer } from './bridge-server'

function get(port: number, pathname: string, host = `127.0.0.1:${port}`): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: pathname, headers: { Host: host } }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

function open(port: number, origin: string): WebSocket {
  return new WebSocket(`ws://127.0.0.1:${port}/api`, BRIDGE_PROTOCOL, { origin })
}

function nextMessage(ws: WebSocket): Promise<unknown> {
  return new Promise((resolve, reject) => {
    ws.once('message', (d: Buffer) => resolve(JSON.parse(d.toString()) as unknown))
    ws.once('close', (code) => reject(new Error(`closed ${code}`)))
  })
}

function closeCode(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => {
    ws.once('close', (code) => resolve(code))
    ws.once('error', () => resolve(-1))
  })
}

describe('web bridge', () => {
  let engine: Engine
  let server: BridgeServer
  let origin: string
  beforeAll(async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'lb-static-'))
    await writeFile(path.join(dir, 'index.html'), '<!doctype html><title>Lifeboat</title>')
    engine = await createEngine({ home: await mkdtemp(path.join(tmpdir(), 'lb-bridge-')), door: 'bridge' })
    server = await startBridgeServer({ engine, staticDir: dir })
    origin = `http://127.0.0.1:${server.port}`
  })
  afterAll(async () => {
    await server.close()
    await engine.dispose()
  })

  it('serves the UI with a strict CSP and nothing outside its folder', async () => {
    const index = await get(server.port, '/')
    expect(index.status).toBe(200)
    expect(String(index.headers['content-security-policy'])).toContain("default-src 'self'")
    for (const evil of ['/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2fetc%2fpasswd', '/%00', '/assets/../../package.json']) {
      expect((await get(server.port, evil)).status, evil).not.toBe(200)
    }
  })

  it('refuses requests that do not name the server itself (DNS rebinding)', async () => {
    expect((await get(server.port, '/', 'evil.example:80')).status).toBe(421)
  })

  it('refuses sockets from other origins, without a token, or with a wrong one', async () => {
    expect(await closeCode(open(server.port, 'http://evil.example'))).toBe(-1)
    const silent = open(server.port, origin)
    await new Promise((r) => silent.once('open', r))
    silent.send(JSON.stringify({ type: 'invoke', id: 1, channel: 'hosts.list', input: {} }))
    expect(await closeCode(silent)).toBe(4401)
    const garbage = open(server.port, origin)
    await new Promise((r) => garbage.once('open', r))
    garbage.send('\u0000garbage')
    expect(await closeCode(garbage)).toBe(4400)
    const wrong = open(server.port, origin)
    await new Promise((r) => wrong.once('open', r))
    wrong.send(JSON.stringify({ type: 'hello', token: 'guess' }))
    expect(await closeCode(wrong)).toBe(4401)
  })

  it('answers calls after hello, survives malformed frames, and forwards subscribed events', async () => {
    const ws = open(server.port, origin)
    await new Promise((r) => ws.once('open', r))
    ws.send(JSON.stringify({ type: 'hello', token: server.newLink().split('#token=')[1] }))
    expect(await nextMessage(ws)).toMatchObject({ type: 'welcome' })
    ws.send(JSON.stringify({ type: 'invoke', id: 7, channel: 'hosts.list', input: {} }))
    expect(await nextMessage(ws)).toEqual({ type: 'result', id: 7, ok: true, value: [] })
    ws.send('{ not json')
    expect(await nextMessage(ws)).toMatchObject({ type: 'error', error: { code: 'INVALID_INPUT' } })
    ws.send(JSON.stringify({ type: 'invoke', id: 8, channel: 'hosts.add', input: { kind: 'linux' } }))
    expect(await nextMessage(ws)).toMatchObject({ type: 'result', id: 8, ok: false, error: { code: 'INVALID_INPUT' } })
    ws.send(JSON.stringify({ type: 'subscribe', topic: 'job.updated' }))
    await new Promise((r) => setTimeout(r, 50))
    const job = engine.jobs.start({ kind: 'test', title: 'Event check', run: () => Promise.resolve(1) })
    const event = (await nextMessage(ws)) as { type: string; topic: string; payload: { id: string } }
    expect(event).toMatchObject({ type: 'event', topic: 'job.updated', payload: { id: job.id } })
    await job.done
    ws.close()
  })
})

describe('web bridge link tokens and session secrets', () => {
  let engine: Engine
  let server: BridgeServer
  let origin: string
  beforeAll(async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'lb-static-'))
    await writeFile(path.join(dir, 'index.html'), '<!doctype html><title>Lifeboat</title>')
    engine = await createEngine({ home: await mkdtemp(path.join(tmpdir(), 'lb-bridge-')), door: 'bridge' })
    server = await startBridgeServer({ engine, staticDir: dir })
    origin = `http://127.0.0.1:${server.port}`
  })
  afterAll(async () => {
    await server.close()
    await engine.dispose()
  })

  async function hello(token: string): Promise<{ ws: WebSocket; reply: Promise<unknown>; closed: Promise<number> }> {
    const ws = open(server.port, origin)
    await new Promise((r) => ws.once('open', r))
    const closed = closeCode(ws)
    const reply = nextMessage(ws)
    reply.catch(() => undefined)
    ws.send(JSON.stringify({ type: 'hello', token }))
    return { ws, reply, closed }
  }

  it('trades the link token for a session secret once; a second use of the link is refused', async () => {
    const used: string[] = []
    server.onLinkUsed((t) => used.push(t))
    const first = await hello(server.token)
    const welcome = (await first.reply) as { type: string; session?: string }
    expect(welcome.type).toBe('welcome')
    expect(welcome.session).toMatch(/^[\w-]{40,}$/)
    expect(welcome.session).not.toBe(server.token)
    expect(used).toEqual([server.token])
    first.ws.close()

    const again = await hello(server.token)
    expect(await again.closed).toBe(CLOSE_LINK_USED)
  })

  it('lets a tab back in with its session secret after a reload, and refuses a wrong secret', async () => {
    const link = server.newLink()
    const first = await hello(link.split('#token=')[1] ?? '')
    const { session } = (await first.reply) as { session: string }
    first.ws.close()

    for (const reload of [1, 2]) {
      const back = await hello(session)
      expect(await back.reply, `reload ${reload}`).toEqual({ type: 'welcome' })
      back.ws.send(JSON.stringify({ type: 'invoke', id: reload, channel: 'hosts.list', input: {} }))
      expect(await nextMessage(back.ws)).toEqual({ type: 'result', id: reload, ok: true, value: [] })
      back.ws.close()
    }

    const wrong = await hello(session.slice(0, -2) + (session.endsWith('AA') ? 'BB' : 'AA'))
    expect(await wrong.closed).toBe(CLOSE_UNAUTHORIZED)
    const empty = await hello('')
    expect(await empty.closed).toBe(CLOSE_UNAUTHORIZED)
  })
})

const bridgeChild = path.join(path.dirname(fileURLToPath(import.meta.url)), 'testing', 'bridge-child.ts')

/** A WebSocket frame as a client would send it (masked), with the length it claims in the header. */
function clientFrame(payload: Buffer, { masked = true, claimedLength = payload.length } = {}): Buffer {
  const header =
    claimedLength < 126
      ? Buffer.from([0x81, (masked ? 0x80 : 0) | claimedLength])
      : Buffer.concat([Buffer.from([0x81, (masked ? 0x80 : 0) | 127]), Buffer.alloc(8)])
  if (claimedLength >= 126) header.writeBigUInt64BE(BigInt(claimedLength), 2)
  if (!masked) return Buffer.concat([header, payload])
  const mask = randomBytes(4)
  const body = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] ?? 0)))
  return Buffer.concat([header, mask, body])
}

/** Opens a socket, performs a real WebSocket upgrade by hand, and resolves once the server said 101. */
function rawUpgrade(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let head = ''
    socket.on('error', reject)
    socket.on('data', function onData(d: Buffer) {
      head += d.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      socket.off('data', onData)
      if (head.startsWith('HTTP/1.1 101')) resolve(socket)
      else reject(new Error(`upgrade refused: ${head}`))
    })
    socket.write(
      [
        'GET /api HTTP/1.1',
        `Host: 127.0.0.1:${port}`,
        `Origin: http://127.0.0.1:${port}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
        'Sec-WebSocket-Version: 13',
        `Sec-WebSocket-Protocol: ${BRIDGE_PROTOCOL}`,
        '',
        '',
      ].join('\r\n'),
    )
  })
}

describe('web bridge against malformed frames (a fresh server in its own process for each)', () => {
  let child: ChildProcess
  let port: number
  let session: string
  beforeEach(async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'lb-static-'))
    await writeFile(path.join(dir, 'index.html'), '<!doctype html><title>Lifeboat</title>')
    const home = await mkdtemp(path.join(tmpdir(), 'lb-bridge-'))
    child = spawn(process.execPath, ['--import', 'tsx', bridgeChild, home, dir], { stdio: ['pipe', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
    const started = await new Promise<{ port: number; token: string }>((resolve, reject) => {
      child.stdout?.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()) as { port: number; token: string }))
      child.once('exit', (code) => reject(new Error(`bridge child exited with ${code}: ${stderr}`)))
    })
    port = started.port
    const ws = open(port, `http://127.0.0.1:${port}`)
    await new Promise((r) => ws.once('open', r))
    ws.send(JSON.stringify({ type: 'hello', token: started.token }))
    session = ((await nextMessage(ws)) as { session: string }).session
    ws.close()
  })
  afterEach(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((r) => child.once('exit', r))
    child.stdin?.end()
    await exited
  })

  const hostile: readonly (readonly [string, Buffer])[] = [
    ['a 5 MiB frame (over the size limit)', clientFrame(Buffer.alloc(1024, 0x61), { claimedLength: 5 * 1024 * 1024 })],
    ['invalid UTF-8 in a text frame', clientFrame(Buffer.from([0x7b, 0xc3, 0x28, 0xff, 0xfe, 0x7d]))],
    ['an unmasked client frame', clientFrame(Buffer.from('{"type":"hello","token":"x"}'), { masked: false })],
  ]

  it.each(hostile)('closes the connection that sent %s and keeps serving everyone else', async (_what, frame) => {
    const socket = await rawUpgrade(port)
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    socket.on('error', () => undefined)
    socket.write(frame)
    await closed
    // A process that died of the frame has gone by the time its socket closed; give it a moment to be reaped.
    await new Promise((r) => setTimeout(r, 200))
    expect(child.exitCode, 'the bridge process exited').toBeNull()
    expect(child.signalCode).toBeNull()

    const other = open(port, `http://127.0.0.1:${port}`)
    await new Promise((resolve, reject) => {
      other.once('open', resolve)
      other.once('error', reject)
    })
    other.send(JSON.stringify({ type: 'hello', token: session }))
    expect(await nextMessage(other)).toEqual({ type: 'welcome' })
    other.send(JSON.stringify({ type: 'invoke', id: 1, channel: 'hosts.list', input: {} }))
    expect(await nextMessage(other)).toEqual({ type: 'result', id: 1, ok: true, value: [] })
    other.close()
  })
})
