import { execFile, spawn } from 'node:child_process'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface Measured {
  readonly seconds: number
  /** Peak resident set of the command (GNU time's %M), when /usr/bin/time is there. */
  readonly maxRssMiB?: number
  /** User + system CPU of the command and its threads (GNU time's %U + %S): what it costs the machine, load aside. */
  readonly cpuSeconds?: number
  /** From start to the first byte on the command's stdout, when it writes any. */
  readonly firstByteSeconds?: number
}

/** sync, then drop the page cache (root only): every timed command reads from the disk, not from memory. */
export async function dropCaches(): Promise<boolean> {
  try {
    await run('sync')
    await writeFile('/proc/sys/vm/drop_caches', '3\n')
    return true
  } catch {
    return false
  }
}

let hasTime: boolean | undefined

/**
 * Runs one whole command, its stdout counted and discarded, and times it; peak RSS through `/usr/bin/time -f %M`.
 * `expectBytes`, when given, is checked against what stdout carried, so a command that fails quietly is not timed.
 */
export async function measure(cmd: string, argv: readonly string[], env: NodeJS.ProcessEnv = {}, expectBytes?: number): Promise<Measured> {
  hasTime ??= await run('/usr/bin/time', ['-f', '%M %U %S', 'true']).then(
    () => true,
    () => false,
  )
  const rssFile = path.join(tmpdir(), `lifeboat-bench-rss-${process.pid}-${Date.now()}`)
  const [file, fileArgs] = hasTime ? ['/usr/bin/time', ['-f', '%M %U %S', '-o', rssFile, cmd, ...argv]] : [cmd, [...argv]]
  const start = process.hrtime.bigint()
  const child = spawn(file, fileArgs, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let bytes = 0
  let firstByte: bigint | undefined
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => {
    firstByte ??= process.hrtime.bigint()
    bytes += d.length
  })
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', resolve)
  })
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  try {
    if (code !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited ${code}: ${stderr.trim()}`)
    if (expectBytes !== undefined && bytes !== expectBytes) throw new Error(`${cmd} ${argv.join(' ')} wrote ${bytes} bytes, expected ${expectBytes}`)
    const [kib, user, sys] = hasTime ? ((await readFile(rssFile, 'utf8')).trim().split('\n').at(-1) ?? '').split(' ').map(Number) : []
    return {
      seconds,
      ...(kib !== undefined && Number.isFinite(kib) ? { maxRssMiB: kib / 1024 } : {}),
      ...(user !== undefined && sys !== undefined && Number.isFinite(user + sys) ? { cpuSeconds: user + sys } : {}),
      ...(firstByte === undefined ? {} : { firstByteSeconds: Number(firstByte - start) / 1e9 }),
    }
  } finally {
    await rm(rssFile, { force: true })
  }
}

export function best(list: readonly Measured[]): Measured {
  const first = list[0]
  if (first === undefined) throw new Error('no measurements')
  return list.reduce((a, b) => (b.seconds < a.seconds ? b : a), first)
}

/** `--name N` from a benchmark's arguments, or `def` when it is missing, not a number or 0. */
export function numberOption(args: readonly string[], name: string, def: number): number {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? Number(args[i + 1] ?? def) || def : def
}
