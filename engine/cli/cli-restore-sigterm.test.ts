import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { lifeboatBin } from '../../e2e/support/cli'
import { hasTool, run } from '../disks/testing/tools'

/**
 * SIGTERM (a service manager stopping a cron job, `timeout`, a kill from a script) during `lifeboat image get`, end
 * to end with the real command: it must end promptly, non-zero, with no partial file under a restored name, and say
 * that it was cancelled and what was left.
 */
const haveTools = (await hasTool('mkfs.ext4')) && (await hasTool('debugfs'))

interface Stopped {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stderr: string
  /** From SIGTERM to the process being gone. */
  readonly ms: number
}

/** Starts `lifeboat ARGS`, sends SIGTERM once `ready()` says so, and reports how it ended. */
async function terminateWhen(home: string, args: readonly string[], ready: (stderr: string) => Promise<boolean>): Promise<Stopped> {
  const child = spawn(process.execPath, [lifeboatBin, ...args, '--home', home], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })))
  const state = { ended: false }
  void exited.then(() => (state.ended = true))
  try {
    const giveUp = Date.now() + 60_000
    while (!state.ended && !(await ready(stderr))) {
      if (Date.now() > giveUp) throw new Error(`the restore never got under way; stderr: ${stderr}`)
      await delay(5)
    }
    if (state.ended) throw new Error(`the restore ended before it could be interrupted; stderr: ${stderr}`)
    const sent = Date.now()
    child.kill('SIGTERM')
    const { code, signal } = await exited
    return { code, signal, stderr, ms: Date.now() - sent }
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
}

async function exists(p: string): Promise<boolean> {
  return await stat(p).then(() => true, () => false)
}

/** Every file under `out` is the whole file of the same name under `src`: nothing half-written, no stray temp file. */
async function expectOnlyWholeFiles(out: string, src: string): Promise<number> {
  let files = 0
  for (const entry of await readdir(out, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const rel = path.relative(out, path.join(entry.parentPath, entry.name))
    const original = await readFile(path.join(src, rel)).catch(() => undefined)
    expect(original, `${rel} is not a file of the source (a temp file left behind?)`).toBeDefined()
    expect((await readFile(path.join(out, rel))).equals(original ?? Buffer.alloc(0)), `${rel} is not whole`).toBe(true)
    files++
  }
  return files
}

describe.skipIf(!haveTools)('SIGTERM during lifeboat image get', () => {
  let dir: string
  let src: string
  let image: string
  let home: string
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lb-cli-sigterm-'))
    home = path.join(dir, 'home')
    src = path.join(dir, 'src')
    for (let d = 0; d < 40; d++) {
      await mkdir(path.join(src, 'many', `d${d}`), { recursive: true })
      for (let f = 0; f < 100; f++) await writeFile(path.join(src, 'many', `d${d}`, `f${f}.txt`), `file ${d}/${f}\n`)
    }
    await mkdir(path.join(src, 'loopy'))
    await writeFile(path.join(src, 'large.bin'), randomBytes(96 * 1024 * 1024))
    image = path.join(dir, 'fs.img')
    await run('mkfs.ext4', ['-q', '-F', '-d', src, image, '256M'])
    // A folder linked to the root: the walk cuts it, and the cut must not get in the way of the cancel.
    await run('debugfs', ['-w', '-R', 'ln / /loopy/loop', image])
  }, 120_000)
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
  })

  it('mid-copy: ends within 5 s, non-zero, no partial file, and says what was left', async () => {
    const out = path.join(dir, 'mid')
    // Stopped while large.bin is being written: it goes to a hidden part file and gets its name only when whole.
    const writingLarge = async () => (await readdir(out).catch(() => [] as string[])).some((f) => f.startsWith('.large.bin.lifeboat-part-'))
    const stopped = await terminateWhen(home, ['image', 'get', image, '/', '--to', out], writingLarge)
    expect(stopped.ms, stopped.stderr).toBeLessThan(5000)
    expect(stopped.signal).toBeNull()
    expect(stopped.code).toBe(1)
    expect(stopped.stderr).toContain(`lifeboat: cancelled; the restore into ${out} was stopped and its cleanup has run.`)
    expect(stopped.stderr).toContain(`left behind: Partly restored files in ${out}`)
    await expectOnlyWholeFiles(out, src)
  }, 90_000)

  it('before anything was written: ends within 5 s, non-zero, and says nothing was written', async () => {
    const out = path.join(dir, 'early')
    // The job has started (its first progress line) but is still opening the disk and counting what to copy.
    const stopped = await terminateWhen(home, ['image', 'get', image, '/', '--to', out], (stderr) => Promise.resolve(stderr.includes('starting')))
    expect(stopped.ms, stopped.stderr).toBeLessThan(5000)
    expect(stopped.code).toBe(1)
    expect(stopped.stderr).toContain(`lifeboat: cancelled; the restore into ${out} was stopped and its cleanup has run.`)
    if (await exists(out)) {
      expect(stopped.stderr).toContain(`left behind: Partly restored files in ${out}`)
      await expectOnlyWholeFiles(out, src)
    } else {
      expect(stopped.stderr).toContain(`Nothing was written to ${out}.`)
    }
  }, 90_000)
})
