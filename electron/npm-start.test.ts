import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = path.resolve(import.meta.dirname, '..')
const startScript = path.join(root, 'scripts/start.mjs')
// With the binary installed, `npm start` would open the desktop app; these cases are about machines without it.
const electronInstalled = existsSync(path.join(root, 'node_modules/electron/path.txt'))

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

function runStart(env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [startScript], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** The environment without anything that picks or skips an Electron download (npm passes its config as npm_config_*). */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(npm_|electron_|force_no_cache$)/i.test(key)))
}

function expectOnlyAdvice(run: Run): void {
  expect(run.code).toBe(1)
  expect(run.stderr).not.toMatch(/^\s+at /m)
  const lines = run.stderr.trim().split('\n')
  expect(lines, run.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(/^Lifeboat: the Electron binary is not installed here .*`npm run serve`/)
}

describe.skipIf(electronInstalled)('npm start without an Electron binary', () => {
  let cache: string
  beforeAll(async () => {
    cache = await mkdtemp(path.join(tmpdir(), 'lb-electron-cache-'))
  })
  afterAll(async () => rm(cache, { recursive: true, force: true }))

  it('with ELECTRON_SKIP_BINARY_DOWNLOAD set, prints one line of advice and exits 1', async () => {
    const run = await runStart({ ...cleanEnv(), ELECTRON_SKIP_BINARY_DOWNLOAD: '1' })
    expectOnlyAdvice(run)
    expect(run.stderr).toContain('ELECTRON_SKIP_BINARY_DOWNLOAD')
  }, 180_000)

  it('when the download fails, gives the reason in that one line instead of the installer\'s stack trace', async () => {
    // Port 1 on loopback refuses at once, on any machine, online or not; the empty cache keeps a cached zip out.
    const run = await runStart({ ...cleanEnv(), ELECTRON_MIRROR: 'http://127.0.0.1:1/', electron_config_cache: cache, force_no_cache: 'true' })
    expectOnlyAdvice(run)
    expect(run.stderr).toContain('the download failed')
  }, 180_000)
})
