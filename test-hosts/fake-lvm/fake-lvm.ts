/**
 * A faithful stand-in for the LVM commands a backup tool runs on a Linux host (`lvs`, `vgs`, `lvcreate`, `lvremove`,
 * `lvdisplay`), for machines whose kernel has no device-mapper. Test peer only; see README.md for what it models.
 *
 * createFakeLvm() makes a folder with the emulated executables in `binDir` (put it first on PATH — for an SSH test host
 * use `sshdConfig()` — and start the fake *before* sshd: sshd's private mount namespace does not see later mounts).
 * LV data lives on a loop-mounted btrfs scratch filesystem so that snapshots are instant reflink copies.
 */
import { mkdtemp, chmod, mkdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { run, CommandError } from '../run'
import { writeToLv } from './lv-write'
import { dmPath, devPath, lvmUuid, saveConfig, withState, type FakeLvmConfig } from './state'
import { validVgName } from './common'

export const FAKE_LVM_COMMANDS = ['lvs', 'vgs', 'lvcreate', 'lvremove', 'lvdisplay', 'fake-lvm-write'] as const

export interface FakeLvmOptions {
  /** Parent of the fake's folder (default the system temp folder). */
  readonly parentDir?: string
  /** `/dev` for real device paths (root only; the links are removed on stop), default `<dir>/dev`. */
  readonly devRoot?: string
  /** 'auto' (default): reflink scratch filesystem when possible, else plain copies; 'require': fail without; 'off'. */
  readonly reflink?: 'auto' | 'require' | 'off'
  /** Sparse size of the btrfs scratch filesystem (default 8 GiB; only what LVs really hold is used). */
  readonly scratchBytes?: number
  /** Behave like LVM for non-root callers (refuse). Default true. */
  readonly requireRoot?: boolean
}

export interface CommandResult {
  readonly stdout: string
  readonly stderr: string
  readonly code: number
}

export interface FakeLvm extends AsyncDisposable {
  readonly dir: string
  readonly binDir: string
  readonly stateDir: string
  readonly devRoot: string
  readonly dataDir: string
  /** 'reflink': snapshots are copy-on-write clones; 'copy': plain copies (slower, not atomic against writers). */
  readonly copyMode: 'reflink' | 'copy'
  /** A PATH with the fake commands first. */
  readonly path: string
  /** sshd_config lines that give SSH sessions that PATH (sshd applies SetEnv after its default PATH). */
  sshdConfig(): string[]
  /** Creates a volume group of `sizeBytes` (whole extents), as vgcreate on a PV of that usable size would. */
  createVg(name: string, sizeBytes: number, options?: { readonly extentSize?: number }): Promise<void>
  /** `lvcreate -L SIZE -n LV VG`, then writes `content` at offset 0; returns the LV's device path. */
  createLv(vg: string, lv: string, sizeBytes: number, content?: Uint8Array): Promise<string>
  /** The write hook: bytes into an LV, charged to the snapshots' COW space (see lv-write.ts). */
  write(target: { readonly vg: string; readonly lv: string; readonly offset: number; readonly data: Uint8Array }): Promise<void>
  /** Runs one of the fake commands as a host shell would. */
  run(command: (typeof FAKE_LVM_COMMANDS)[number], args: readonly string[], input?: string): Promise<CommandResult>
  /** Removes device links, unmounts the scratch filesystem, deletes the folder. Idempotent. */
  stop(): Promise<void>
}

const here = path.dirname(fileURLToPath(import.meta.url))
const shQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

export async function createFakeLvm(options: FakeLvmOptions = {}): Promise<FakeLvm> {
  const dir = await mkdtemp(path.join(options.parentDir ?? tmpdir(), 'lb-fakelvm-'))
  await chmod(dir, 0o755)
  const binDir = path.join(dir, 'bin')
  const stateDir = path.join(dir, 'state')
  const dataDir = path.join(dir, 'data')
  const devRoot = options.devRoot ?? path.join(dir, 'dev')
  let mounted = false
  const cleanups: (() => Promise<void>)[] = []

  const stop = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
  }
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  try {
    await mkdir(dataDir)
    let copyMode: 'reflink' | 'copy' = 'copy'
    if (options.reflink !== 'off') {
      if (process.getuid?.() === 0) {
        mounted = await mountScratch(dir, dataDir, options.scratchBytes ?? 8 * 1024 ** 3)
        if (mounted) cleanups.push(() => unmount(dataDir))
      }
      if (await reflinkWorks(dataDir)) copyMode = 'reflink'
      else if (options.reflink === 'require') throw new Error(`No reflink-capable filesystem for the fake LVM (btrfs loop mount ${mounted ? 'made' : 'not possible'}).`)
    }
    const config: FakeLvmConfig = { stateDir, devRoot, dataDir, copyMode, requireRoot: options.requireRoot ?? true }
    await saveConfig(config)
    await mkdir(path.join(stateDir, 'invalid-snapshot'))
    cleanups.push(() => removeDeviceLinks(config))

    const bundle = path.join(dir, 'fake-lvm.mjs')
    await build({ entryPoints: [path.join(here, 'cli.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: bundle, logLevel: 'error' })
    await mkdir(binDir)
    for (const command of FAKE_LVM_COMMANDS) {
      const script = `#!/bin/sh\n# Fake LVM (test-hosts/fake-lvm): emulated ${command}, state in ${stateDir}\nFAKE_LVM_STATE=${shQuote(stateDir)} exec ${shQuote(process.execPath)} ${shQuote(bundle)} ${command} "$@"\n`
      await writeFile(path.join(binDir, command), script, { mode: 0o755 })
    }

    const hostPath = `${binDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`
    const runCommand = async (command: string, args: readonly string[], input?: string): Promise<CommandResult> => {
      try {
        const { stdout, stderr } = await run(path.join(binDir, command), args, { env: { ...process.env, PATH: hostPath }, ...(input === undefined ? {} : { input }) })
        return { stdout, stderr, code: 0 }
      } catch (err) {
        if (err instanceof CommandError && err.exitCode !== null) return { stdout: err.stdout, stderr: err.stderr, code: err.exitCode }
        throw err
      }
    }
    const fake: FakeLvm = {
      dir,
      binDir,
      stateDir,
      devRoot,
      dataDir,
      copyMode,
      path: hostPath,
      sshdConfig: () => [`SetEnv PATH=${hostPath}`],
      async createVg(name, sizeBytes, vgOptions = {}) {
        if (!validVgName(name)) throw new Error(`Invalid VG name ${name}`)
        const extentSize = vgOptions.extentSize ?? 4 * 1024 * 1024
        await withState(config, (state) => {
          if (state.vgs.some((v) => v.name === name)) return Promise.reject(new Error(`VG ${name} exists`))
          state.vgs.push({ name, uuid: lvmUuid(), extentSize, extentCount: Math.floor(sizeBytes / extentSize), tags: [], seqno: 1 })
          return Promise.resolve()
        })
      },
      async createLv(vg, lv, sizeBytes, content) {
        const result = await runCommand('lvcreate', ['-L', `${sizeBytes}b`, '-n', lv, vg])
        if (result.code !== 0) throw new Error(`lvcreate failed (${result.code}): ${result.stderr}`)
        if (content !== undefined) await writeToLv(config, { vg, lv, offset: 0, data: content })
        return devPath(config, vg, lv)
      },
      write: (target) => writeToLv(config, target),
      run: runCommand,
      stop,
      [Symbol.asyncDispose]: stop,
    }
    return fake
  } catch (err) {
    await stop()
    throw err
  }
}

async function mountScratch(dir: string, dataDir: string, bytes: number): Promise<boolean> {
  const image = path.join(dir, 'scratch.btrfs')
  try {
    await run('truncate', ['-s', String(bytes), image])
    await run('mkfs.btrfs', ['-q', '-f', image])
    // -o loop sets autoclear: the loop device goes away with the unmount.
    await run('mount', ['-o', 'loop', image, dataDir])
    return true
  } catch {
    await rm(image, { force: true })
    return false
  }
}

async function unmount(target: string): Promise<void> {
  await run('umount', [target]).catch(() => run('umount', ['-l', target]))
}

async function reflinkWorks(dirPath: string): Promise<boolean> {
  const a = path.join(dirPath, '.reflink-probe')
  try {
    await writeFile(a, 'probe')
    await run('cp', ['--reflink=always', a, `${a}.copy`])
    return true
  } catch {
    return false
  } finally {
    await rm(a, { force: true })
    await rm(`${a}.copy`, { force: true })
  }
}

/** Device links live outside the fake's folder when devRoot is /dev: remove exactly the ones the state knows. */
async function removeDeviceLinks(config: FakeLvmConfig): Promise<void> {
  const state = JSON.parse(await readFile(path.join(config.stateDir, 'state.json'), 'utf8').catch(() => '{"lvs":[],"vgs":[]}')) as {
    lvs: { vg: string; name: string }[]
    vgs: { name: string }[]
  }
  for (const lv of state.lvs) {
    await rm(devPath(config, lv.vg, lv.name), { force: true })
    await rm(dmPath(config, lv.vg, lv.name), { force: true })
  }
  for (const vg of state.vgs) await rmdir(path.join(config.devRoot, vg.name)).catch(() => undefined)
  await rmdir(path.join(config.devRoot, 'mapper')).catch(() => undefined)
}
