import { execFile } from 'node:child_process'
import { resolve } from 'node:path'
import { parseQemuImgMap } from '../../adapters/linux/qemu-img-map'
import type { Extent } from './block-source'

/**
 * Holes are reported per whole block of this size (the repository's chunk): a block with any data in it is read in
 * one piece, so a fragmented file costs no more reads than a dense one.
 */
const BLOCK = 4 * 1024 * 1024
const MAX_MAP_BYTES = 32 * 1024 * 1024

/**
 * Where a local file's data is, from `qemu-img map` where it is installed (it asks the filesystem with
 * SEEK_DATA/SEEK_HOLE; Node itself cannot): block-aligned extents covering [0, size), or undefined when there is no
 * qemu-img or its answer is not believable — then the caller reads everything, as before.
 */
export async function localExtents(path: string, size: number, signal?: AbortSignal): Promise<Extent[] | undefined> {
  const text = await new Promise<string | undefined>((done) => {
    execFile('qemu-img', ['map', '--output=json', '-U', '-f', 'raw', resolve(path)], { maxBuffer: MAX_MAP_BYTES, timeout: 60_000, encoding: 'utf8', ...(signal ? { signal } : {}) }, (err, stdout) =>
      done(err === null ? stdout : undefined),
    )
  })
  signal?.throwIfAborted()
  if (text === undefined) return undefined
  const parsed = parseQemuImgMap(text, size)
  if ('reason' in parsed) return undefined
  const out: Extent[] = []
  const push = (offset: number, end: number, kind: Extent['kind']): void => {
    if (end <= offset) return
    const last = out.at(-1)
    if (last !== undefined && last.kind === kind) out[out.length - 1] = { offset: last.offset, length: end - last.offset, kind }
    else out.push({ offset, length: end - offset, kind })
  }
  let at = 0
  for (const r of parsed.ranges) {
    const start = Math.floor(r.offset / BLOCK) * BLOCK
    const end = Math.min(size, Math.ceil((r.offset + r.length) / BLOCK) * BLOCK)
    push(at, Math.max(at, start), 'zero')
    push(Math.max(at, start), end, 'data')
    at = Math.max(at, end)
  }
  push(at, size, 'zero')
  return out
}
