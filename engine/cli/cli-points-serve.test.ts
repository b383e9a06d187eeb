import { execFile, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { lifeboatBin, runCli } from '../../e2e/support/cli'
import { hasTool } from '../disks/testing/tools'
import { writeMixedImage } from '../repository/testing/fixtures'
import { CHUNK_SIZE } from '../repository/format'

const exec = promisify(execFile)
const haveQemu = (await hasTool('qemu-img')) && (await hasTool('qemu-io'))

/** `lifeboat points serve` as a script runs it: the URI on stdout, qemu-img reads it, a signal stops it cleanly. */
describe.skipIf(!haveQemu)('lifeboat points serve', () => {
  let dir: string
  let home: string
  let image: string
  let pointId: string
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lb-cli-serve-'))
    home = path.join(dir, 'home')
    image = path.join(dir, 'disk.raw')
    await writeMixedImage(image, { blocks: 3, blockSize: CHUNK_SIZE, pattern: ['random', 'zero', 'text'] })
    const backup = await runCli(home, ['backup-file', image, '--json'])
    expect(backup.code, backup.stderr).toBe(0)
    pointId = (JSON.parse(backup.stdout) as { id: string }).id
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
  })

  async function serve(args: readonly string[], signal: NodeJS.Signals, use: (uri: string) => Promise<void>): Promise<{ code: number | null; stderr: string }> {
    const child = spawn(process.execPath, [lifeboatBin, 'points', 'serve', pointId, ...args, '--home', home], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
    try {
      const giveUp = Date.now() + 60_000
      while (!stdout.includes('\n')) {
        if (Date.now() > giveUp || child.exitCode !== null) throw new Error(`no URI printed; stderr: ${stderr}`)
        await new Promise((r) => setTimeout(r, 20))
      }
      await use(stdout.split('\n')[0] ?? '')
    } finally {
      child.kill(signal)
    }
    return { code: await exited, stderr }
  }

  it('prints the URI, serves the exact disk read-only, and stops on SIGTERM leaving no socket', async () => {
    const socket = path.join(dir, 'ro.sock')
    const out = path.join(dir, 'out.raw')
    const ended = await serve(['--nbd', `unix:${socket}`], 'SIGTERM', async (uri) => {
      expect(uri).toBe(`nbd+unix:///disk0?socket=${socket}`)
      await exec('qemu-img', ['convert', '-O', 'raw', uri, out])
      const write = await exec('qemu-io', ['-f', 'raw', '-c', 'write -P 1 0 512', uri]).then(
        (r) => r.stdout + r.stderr,
        (e: unknown) => String(e),
      )
      expect(write).toMatch(/read-only|not permitted|Permission denied/i)
    })
    expect(ended.code, ended.stderr).toBe(0)
    expect(ended.stderr).toContain('Stopped serving; nothing was left behind.')
    expect((await readFile(out)).equals(await readFile(image))).toBe(true)
    await expect(stat(socket)).rejects.toThrow(/ENOENT/)
  })

  it('with --writable-overlay, takes writes into the file and stops on Ctrl+C; the restore point stays as it was', async () => {
    const socket = path.join(dir, 'rw.sock')
    const overlay = path.join(dir, 'writes.ovl')
    const ended = await serve(['--nbd', `unix:${socket}`, '--writable-overlay', overlay], 'SIGINT', async (uri) => {
      await exec('qemu-io', ['-f', 'raw', '-c', 'write -P 0x5a 4096 8192', '-c', 'flush', uri])
      const back = await exec('qemu-io', ['-r', '-f', 'raw', '-c', 'read -P 0x5a 4096 8192', uri])
      expect(back.stdout).toMatch(/read 8192\/8192 bytes/)
    })
    expect(ended.code, ended.stderr).toBe(0)
    expect((await stat(overlay)).isFile()).toBe(true)
    const verify = await runCli(home, ['repo', 'verify', '--json'])
    expect(verify.code, verify.stderr).toBe(0)
    const again = path.join(dir, 'again.raw')
    const exported = await runCli(home, ['points', 'export', pointId, '--format', 'raw', '--out', again])
    expect(exported.code, exported.stderr).toBe(0)
    expect((await readFile(again)).equals(await readFile(image))).toBe(true)
  })

  it('refuses an address off this machine before starting anything', async () => {
    const res = await runCli(home, ['points', 'serve', pointId, '--nbd', '0.0.0.0:10809'])
    expect(res.code).not.toBe(0)
    expect(res.stderr).toMatch(/this machine only/)
  })
})
