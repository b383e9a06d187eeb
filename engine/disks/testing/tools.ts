import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import type { BlockSource } from '../block-source'

/** Test-only helpers: run the real tools that make fixtures and give ground truth. */
const execFileP = promisify(execFile)

export async function run(cmd: string, args: readonly string[], options: { input?: string; cwd?: string } = {}): Promise<string> {
  const child = execFileP(cmd, args, { maxBuffer: 256 * 1024 * 1024, encoding: 'utf8', ...(options.cwd ? { cwd: options.cwd } : {}) })
  if (options.input !== undefined) {
    child.child.stdin?.end(options.input)
  }
  const { stdout } = await child
  return stdout
}

export async function runBuffer(cmd: string, args: readonly string[]): Promise<Buffer> {
  const { stdout } = await execFileP(cmd, args, { maxBuffer: 1024 * 1024 * 1024, encoding: 'buffer' })
  return stdout
}

export async function hasTool(cmd: string): Promise<boolean> {
  try {
    await execFileP('sh', ['-c', `command -v ${cmd}`])
    return true
  } catch {
    return false
  }
}

export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), `lifeboat-${prefix}-`))
  try {
    return await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

export async function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `lifeboat-${prefix}-`))
}

export function sha256(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex')
}

/** SHA-256 of a whole BlockSource, read in 4 MiB steps. */
export async function hashSource(source: BlockSource): Promise<string> {
  const h = createHash('sha256')
  const step = 4 * 1024 * 1024
  for (let at = 0; at < source.size; at += step) h.update(await source.read(at, Math.min(step, source.size - at)))
  return h.digest('hex')
}

/** Deterministic pseudo-random bytes (xorshift), so fixtures are reproducible from a seed. */
export function seededBytes(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length)
  let x = seed >>> 0 || 1
  for (let i = 0; i < length; i += 4) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    if (i + 4 <= length) out.writeUInt32LE(x, i)
    else for (let k = 0; i + k < length; k++) out[i + k] = (x >> (8 * k)) & 0xff
  }
  return out
}

export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x / 0x100000000
  }
}

/**
 * An ext4 image made the way an admin's tools make one: the files (relative path → content) are written to a folder
 * `NAME-src` in `dir` and `mkfs.ext4 -d` builds `NAME.img` from it. Returns the image's path.
 */
export async function ext4ImageOf(dir: string, name: string, files: Readonly<Record<string, string | Uint8Array>>, size: string, mkfsOptions: readonly string[] = []): Promise<string> {
  const src = join(dir, `${name}-src`)
  await mkdir(src, { recursive: true })
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(dirname(join(src, rel)), { recursive: true })
    await writeFile(join(src, rel), content)
  }
  const image = join(dir, `${name}.img`)
  await run('mkfs.ext4', ['-q', '-F', ...mkfsOptions, '-d', src, image, size])
  return image
}
