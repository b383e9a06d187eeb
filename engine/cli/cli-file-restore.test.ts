import { execFile } from 'node:child_process'
import { constants } from 'node:fs'
import { mkdir, mkdtemp, open, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../../e2e/support/cli'
import { ext4ImageOf, hasTool, run, seededBytes } from '../disks/testing/tools'
import { canMount } from '../filesystems/testing/fixtures'

/** `image get` / `files get` as a script sees them: the exit code, one summary line on stderr, the full lists in --json. */
const haveTools = (await hasTool('mkfs.ext4')) && (await hasTool('debugfs'))

interface RestoreJson {
  readonly state: string
  readonly notRestored: { path: string; reason: string }[]
  readonly renames: { path: string; to: string }[]
  readonly error?: { code: string; message: string }
}

/** An ext4 image a hostile guest could leave: a folder linked to its parent, a device, a link out, a name with '/'. */
async function hostileImage(dir: string): Promise<string> {
  const src = path.join(dir, 'src')
  await mkdir(path.join(src, 'd'), { recursive: true })
  await writeFile(path.join(src, 'a.txt'), 'plain\n')
  await writeFile(path.join(src, 'we_ird'), 'renamed\n')
  await symlink('/etc/passwd', path.join(src, 'escape'))
  const image = path.join(dir, 'hostile.img')
  // No metadata checksums, so the name can be patched below without the reader refusing the folder block.
  await run('mkfs.ext4', ['-q', '-F', '-O', '^metadata_csum', '-d', src, image, '32M'])
  await run('debugfs', ['-w', '-R', 'ln / /d/loop', image])
  await run('debugfs', ['-w', '-R', 'mknod null c 1 3', image])
  const bytes = await readFile(image)
  const at = bytes.indexOf('we_ird')
  expect(at).toBeGreaterThan(0)
  expect(bytes.indexOf('we_ird', at + 1)).toBe(-1)
  bytes[at + 2] = '/'.charCodeAt(0)
  await writeFile(image, bytes)
  return image
}

describe.skipIf(!haveTools)('lifeboat image get / files get exit codes', () => {
  let dir: string
  let home: string
  let image: string
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lb-cli-get-'))
    home = path.join(dir, 'home')
    image = await hostileImage(dir)
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
  })

  it('exits 0 when everything asked for was restored as it is', async () => {
    const res = await runCli(home, ['image', 'get', image, '/a.txt', '--to', path.join(dir, 'clean')])
    expect(res.code, res.stderr).toBe(0)
    expect(await readFile(path.join(dir, 'clean', 'a.txt'), 'utf8')).toBe('plain\n')
  })

  it('exits 3 with one summary line when items were skipped or renamed, and --json lists them all', async () => {
    const res = await runCli(home, ['image', 'get', image, '/', '--to', path.join(dir, 'text')])
    expect(res.code, res.stderr).toBe(3)
    const summary = res.stderr.split('\n').filter((l) => l.startsWith('lifeboat: the restore finished, but not everything as it was'))
    expect(summary).toHaveLength(1)
    expect(summary[0]).toContain('3 items were not restored and 1 item was restored under another name')
    expect(summary[0]).toMatch(/\/d\/loop: this folder is \/, one of its own parents/)
    expect(summary[0]).toContain('/null: char-device files are not restored')
    expect(summary[0]).toContain('/escape: the link points outside the restore folder')
    expect(summary[0]).toContain('and 1 more (all of them with --json)')
    expect((await readdir(path.join(dir, 'text'))).sort()).toEqual(['a.txt', 'd', 'lost+found', 'we_ird'])

    const json = await runCli(home, ['image', 'get', image, '/', '--to', path.join(dir, 'json'), '--json'])
    expect(json.code, json.stderr).toBe(3)
    const doc = JSON.parse(json.stdout) as RestoreJson
    expect(doc.state).toBe('succeeded')
    expect(doc.notRestored.map((i) => i.path).sort()).toEqual(['/d/loop', '/escape', '/null'])
    expect(doc.notRestored.every((i) => i.reason.length > 0)).toBe(true)
    expect(doc.renames).toEqual([{ path: '/we/ird', to: 'we_ird' }])
  })

  it('says the same for a restore point (files get)', async () => {
    const backup = await runCli(home, ['backup-file', image, '--name', 'hostile', '--json'])
    expect(backup.code, backup.stderr).toBe(0)
    const pointId = (JSON.parse(backup.stdout) as { id: string }).id
    const res = await runCli(home, ['files', 'get', pointId, '/', '--to', path.join(dir, 'point'), '--json'])
    expect(res.code, res.stderr).toBe(3)
    expect((JSON.parse(res.stdout) as RestoreJson).notRestored).toHaveLength(3)
    const clean = await runCli(home, ['files', 'get', pointId, '/a.txt', '--to', path.join(dir, 'point-clean')])
    expect(clean.code, clean.stderr).toBe(0)
  })

  // Opening a named pipe blocks a thread in open(2) for good; the command hung, deaf to SIGTERM and even process.exit.
  it('refuses a named pipe as an image instead of hanging', async () => {
    const fifo = path.join(dir, 'pipe.img')
    await promisify(execFile)('mkfifo', [fifo])
    const running = runCli(home, ['image', 'get', fifo, '/', '--to', path.join(dir, 'fifo-out')])
    try {
      const res = await Promise.race([running, delay(20_000, undefined, { ref: false }).then(() => undefined)])
      expect(res, 'lifeboat image get on a named pipe still runs after 20 s').toBeDefined()
      expect(res?.code).toBe(2)
      expect(res?.stderr).toContain(`${fifo} is a named pipe, not a disk image file`)
    } finally {
      // A command stuck in open(2) on the pipe is released by a writer opening it (none waiting: ENXIO).
      await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK).then((fh) => fh.close(), () => undefined)
      await running
    }
  }, 40_000)

  it.skipIf(!canMount)('a restore folder without room: NO_SPACE with both numbers, nothing written', async () => {
    const big = await ext4ImageOf(dir, 'big', { 'random.bin': seededBytes(3 * 1024 * 1024, 5) }, '16M')
    const small = path.join(dir, 'small')
    await mkdir(small)
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small])
    try {
      const res = await runCli(home, ['image', 'get', big, '/random.bin', '--to', path.join(small, 'out'), '--json'])
      expect(res.code).toBe(1)
      const doc = JSON.parse(res.stdout) as RestoreJson
      expect(doc.error?.code).toBe('NO_SPACE')
      expect(res.stderr).toMatch(/needs 3\.0 MiB \(3145728 bytes\) but only .* \(\d+ bytes\) are free\. Nothing was written\./)
      expect(await readdir(small)).toEqual([])
    } finally {
      await run('umount', [small])
    }
  })
}, 120_000)
