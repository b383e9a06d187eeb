import { existsSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { BRIDGE_PROTOCOL } from '../api/contract-bridge'
import { createEngine, type Engine } from '../engine'
import type { CliIo } from './cli-io'
import { serveCommand } from './commands-serve'

async function until<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

// The opener is found on PATH like the real xdg-open; this one records what every local user could read.
const fakeOpener = `#!/bin/sh
cat /proc/$$/cmdline | tr '\\0' ' ' > "$LB_RECORD/cmdline.tmp"
stat -c '%a' "$1" > "$LB_RECORD/file-mode"
stat -c '%a' "$(dirname "$1")" > "$LB_RECORD/dir-mode"
cp "$1" "$LB_RECORD/page.html"
echo "$1" > "$LB_RECORD/path"
mv "$LB_RECORD/cmdline.tmp" "$LB_RECORD/cmdline"
`

describe.skipIf(process.platform !== 'linux')('lifeboat serve --open', () => {
  const savedPath = process.env.PATH
  let engine: Engine | undefined
  afterEach(async () => {
    process.env.PATH = savedPath
    delete process.env.LB_RECORD
    await engine?.dispose()
  })

  it('gives the browser opener a private page, never the token, and removes the page once the link is used', async () => {
    const work = await mkdtemp(path.join(tmpdir(), 'lb-serve-open-'))
    const bin = path.join(work, 'bin')
    const record = path.join(work, 'record')
    const staticDir = path.join(work, 'ui')
    for (const dir of [bin, record, staticDir]) await mkdir(dir)
    await writeFile(path.join(staticDir, 'index.html'), '<!doctype html><title>Lifeboat</title>')
    await writeFile(path.join(bin, 'xdg-open'), fakeOpener)
    await chmod(path.join(bin, 'xdg-open'), 0o755)
    process.env.PATH = `${bin}:${savedPath ?? ''}`
    process.env.LB_RECORD = record

    const printed: string[] = []
    const io: CliIo = { json: true, out: (t) => printed.push(t), err: () => undefined, confirm: () => undefined, readStdin: () => Promise.resolve('') }
    const stop = new AbortController()
    const running = serveCommand.run({
      io,
      values: { open: true, 'static-dir': staticDir },
      positionals: [],
      signal: stop.signal,
      engine: async () => (engine = await createEngine({ home: path.join(work, 'home'), door: 'bridge' })),
    })
    try {
      const { url, port } = await until(() => (printed[0] ? (JSON.parse(printed[0]) as { url: string; port: number }) : undefined), 'the printed link')
      const token = url.split('#token=')[1] ?? ''
      expect(token.length).toBeGreaterThan(20)

      const cmdline = await until(() => (existsSync(path.join(record, 'cmdline')) ? readFile(path.join(record, 'cmdline'), 'utf8') : undefined), 'the opener')
      expect(cmdline).toContain('xdg-open')
      expect(cmdline).not.toContain(token)
      expect(await readFile(path.join(record, 'page.html'), 'utf8')).toContain(url)
      expect((await readFile(path.join(record, 'file-mode'), 'utf8')).trim()).toBe('600')
      expect((await readFile(path.join(record, 'dir-mode'), 'utf8')).trim()).toBe('700')
      const page = (await readFile(path.join(record, 'path'), 'utf8')).trim()
      expect(existsSync(page)).toBe(true)

      const ws = new WebSocket(`ws://127.0.0.1:${port}/api`, BRIDGE_PROTOCOL, { origin: `http://127.0.0.1:${port}` })
      await new Promise((r) => ws.once('open', r))
      ws.send(JSON.stringify({ type: 'hello', token }))
      await new Promise((r) => ws.once('message', r))
      ws.close()
      await until(() => (existsSync(page) || existsSync(path.dirname(page)) ? undefined : true), 'the page to be removed')
    } finally {
      stop.abort()
      expect(await running).toBe(0)
      await rm(work, { recursive: true, force: true })
    }
  })
})
