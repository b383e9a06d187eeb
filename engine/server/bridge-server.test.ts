import { mkdtemp, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { BRIDGE_PROTOCOL } from '../api/contract-bridge'
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
    ws.send(JSON.stringify({ type: 'hello', token: server.token }))
    expect(await nextMessage(ws)).toEqual({ type: 'welcome' })
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
