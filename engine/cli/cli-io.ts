import { closeSync, openSync, readSync, writeSync } from 'node:fs'
import type { ApiError } from '../api/contract-errors'

/** Exit codes scripts can rely on. */
export const EXIT_OK = 0
export const EXIT_FAILED = 1
export const EXIT_USAGE = 2
/** A file restore (`image get`, `files get`) finished, but skipped or renamed some items (listed on stderr, all in --json). */
export const EXIT_PARTIAL = 3

export class UsageError extends Error {
  override readonly name = 'UsageError'
}

export interface CliIo {
  readonly json: boolean
  out(text: string): void
  err(text: string): void
  /** Asks a yes/no question on the controlling terminal; undefined when there is none (cron, CI, pipes). */
  confirm(question: string): boolean | undefined
  readStdin(): Promise<string>
}

export function processIo(json: boolean): CliIo {
  return {
    json,
    out: (text) => process.stdout.write(text.endsWith('\n') ? text : text + '\n'),
    err: (text) => process.stderr.write(text.endsWith('\n') ? text : text + '\n'),
    confirm: (question) => askTty(question),
    readStdin: async () => {
      const chunks: Buffer[] = []
      let size = 0
      for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
        size += chunk.length
        if (size > 1024 * 1024) throw new UsageError('Standard input is larger than 1 MiB; expected a password.')
        chunks.push(chunk)
      }
      return Buffer.concat(chunks).toString('utf8')
    },
  }
}

/** Like OpenSSH, ask on /dev/tty so it works even when stdin carries a password. */
function askTty(question: string): boolean | undefined {
  if (process.platform === 'win32') {
    if (!process.stdin.isTTY) return undefined
  }
  let fd: number
  try {
    fd = openSync(process.platform === 'win32' ? 'CONIN$' : '/dev/tty', 'r+')
  } catch {
    return undefined
  }
  try {
    writeSync(fd, `${question} [y/N] `)
    const buf = Buffer.alloc(256)
    const n = readSync(fd, buf, 0, buf.length, null)
    const answer = buf.subarray(0, n).toString('utf8').trim().toLowerCase()
    return answer === 'y' || answer === 'yes'
  } finally {
    closeSync(fd)
  }
}

/** Prints an error the way every command does: plain words on stderr, and one JSON document with --json. */
export function reportError(io: CliIo, error: ApiError): number {
  if (io.json) io.out(JSON.stringify({ error: error.toJSON() }, null, 2))
  io.err(`lifeboat: ${error.message}`)
  return EXIT_FAILED
}

export function table(rows: readonly (readonly string[])[], headers: readonly string[]): string {
  const all = [headers, ...rows]
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)))
  return all.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')).join('\n')
}

export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return '-'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value >= 10 || unit === 0 ? value.toFixed(0) : value.toFixed(1)} ${units[unit] ?? 'B'}`
}
