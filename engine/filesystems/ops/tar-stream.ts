import { DiskFormatError } from '../../disks/errors'
import { FilesystemError } from '../errors'
import { splitPath } from '../generic-volume'
import { createPacer } from '../pace'
import type { FsEntry, Volume } from '../types'
import { walk, type WalkProblem } from '../walk'

/**
 * A folder (or one file) of a volume as a POSIX tar stream (ustar headers, pax extended headers for long or
 * non-ASCII names, big sizes and sub-second times). Produced lazily: a consumer that stops reading stops the walk. The walk is the shared one (loops, depth,
 * pacing, cancel): folders it leaves out are told to `onProblem`.
 */
export interface TarOptions {
  readonly signal?: AbortSignal
  readonly maxEntries?: number
  readonly maxDepth?: number
  /** Told about folders left out (directory loops, second hard links to a folder, too deep, unreadable). */
  readonly onProblem?: (problem: WalkProblem) => void
}

const BLOCK = 512

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0'
}

function fitsUstar(s: string, max: number): boolean {
  return Buffer.byteLength(s) <= max && /^[\x20-\x7e]*$/.test(s)
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`
  let len = Buffer.byteLength(body) + 1
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body)
  return `${len}${body}`
}

function header(name: string, o: { mode: number; uid: number; gid: number; size: number; mtime: number; type: string; link?: string }): Buffer {
  const h = Buffer.alloc(BLOCK)
  h.write(name, 0, 100, 'utf8')
  h.write(octal(o.mode & 0o7777, 8), 100, 'ascii')
  h.write(octal(o.uid & 0o7777777, 8), 108, 'ascii')
  h.write(octal(o.gid & 0o7777777, 8), 116, 'ascii')
  h.write(octal(o.size <= 0o77777777777 ? o.size : 0, 12), 124, 'ascii')
  h.write(octal(Math.max(0, Math.min(Math.floor(o.mtime), 0o77777777777)), 12), 136, 'ascii')
  h.write(o.type, 156, 'ascii')
  if (o.link) h.write(o.link, 157, 100, 'utf8')
  h.write('ustar\0', 257, 'ascii')
  h.write('00', 263, 'ascii')
  h.fill(0x20, 148, 156)
  let sum = 0
  for (const b of h) sum += b
  h.write(octal(sum, 7) + ' ', 148, 'ascii')
  return h
}

function entryBlocks(path: string, e: FsEntry): Buffer[] {
  const type = e.type === 'directory' ? '5' : e.type === 'symlink' ? '2' : '0'
  const name = e.type === 'directory' ? `${path}/` : path
  const link = e.type === 'symlink' ? (e.symlinkTarget ?? '') : undefined
  const size = e.type === 'file' ? e.size : 0
  const mtimeMs = e.mtime?.getTime() ?? 0
  const pax: string[] = []
  if (!fitsUstar(name, 100)) pax.push(paxRecord('path', name))
  if (link !== undefined && !fitsUstar(link, 100)) pax.push(paxRecord('linkpath', link))
  if (size > 0o77777777777) pax.push(paxRecord('size', String(size)))
  if (mtimeMs % 1000 !== 0 || mtimeMs < 0) pax.push(paxRecord('mtime', (mtimeMs / 1000).toFixed(3)))
  const out: Buffer[] = []
  const fields = { mode: e.mode ?? (e.type === 'directory' ? 0o755 : 0o644), uid: e.uid ?? 0, gid: e.gid ?? 0, size, mtime: mtimeMs / 1000, type }
  if (pax.length > 0) {
    const body = Buffer.from(pax.join(''), 'utf8')
    out.push(header(`PaxHeader/${asciiOnly(name).slice(-80)}`, { ...fields, size: body.length, type: 'x' }), pad(body))
  }
  out.push(header(asciiOnly(name).slice(0, 100), { ...fields, ...(link !== undefined ? { link: asciiOnly(link).slice(0, 100) } : {}) }))
  return out
}

function asciiOnly(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '_')
}

function pad(b: Buffer): Buffer {
  const extra = (BLOCK - (b.length % BLOCK)) % BLOCK
  return extra ? Buffer.concat([b, Buffer.alloc(extra)]) : b
}

/** Member names are relative and never contain "..": a tar made from a hostile image is safe to unpack. */
function memberName(parts: readonly string[]): string {
  return parts.map((p) => (p === '..' || p === '.' || p === '' ? '_' : p.replace(/[\0/]/g, '_'))).join('/')
}

export async function* tarStream(volume: Volume, path: string, options: TarOptions = {}): AsyncIterable<Buffer> {
  const signal = options.signal
  const opt = signal ? { signal } : {}
  const pacer = createPacer()
  const parts = splitPath(path)
  const rootName = parts[parts.length - 1]
  const root = await volume.node(path, opt)
  const events = walk(volume, root, parts.length ? `/${parts.join('/')}` : '/', {
    ...opt,
    pacer,
    maxEntries: options.maxEntries ?? 10_000_000,
    ...(options.maxDepth !== undefined ? { maxDepth: options.maxDepth } : {}),
    ...(options.onProblem ? { onProblem: options.onProblem } : {}),
  })
  for await (const ev of events) {
    if (ev.kind === 'leave') continue
    const e = ev.visit.node.entry
    if (e.type !== 'file' && e.type !== 'directory' && e.type !== 'symlink') continue
    const name = memberName(rootName === undefined ? ev.visit.parts : [rootName, ...ev.visit.parts])
    if (name) yield* entryBlocks(name, e)
    if (e.type !== 'file') continue
    let written = 0
    try {
      for await (const chunk of volume.readNode(ev.visit.node, opt)) {
        const take = chunk.subarray(0, Math.max(0, e.size - written))
        written += take.length
        if (take.length > 0) yield take
        await pacer()
      }
      if (written < e.size) throw new FilesystemError('corrupt', `the file ended at byte ${written}, before its size of ${e.size}`)
    } catch (err) {
      if (signal?.aborted || !(err instanceof FilesystemError || err instanceof DiskFormatError)) throw err
      // The header (and size) is already out: like GNU tar, fill the member with zeros and say so.
      options.onProblem?.({ path: ev.visit.path, kind: 'unreadable', reason: `the file could not be read past byte ${written} (${err.message}); the archive holds zeros from there` })
    }
    for (let left = e.size - written; left > 0; left -= BLOCK * 128) {
      const zeros = Buffer.alloc(Math.min(left, BLOCK * 128))
      written += zeros.length
      yield zeros
      await pacer()
    }
    const extra = (BLOCK - (written % BLOCK)) % BLOCK
    if (extra) yield Buffer.alloc(extra)
  }
  yield Buffer.alloc(BLOCK * 2)
}
