import { AdapterError, type BlockSource } from '../host-adapter'
import { isAllZero } from '../block-source'
import { RemoteWriter } from '../ssh/remote-writer'
import type { RootShell } from '../ssh/root-shell'
import { sh } from '../ssh/shell-quote'

interface Lent {
  readonly data: Buffer
  release(): void
}

const CHUNK = 4 * 1024 * 1024
const READ_AHEAD = 4

/**
 * Writes a disk's guest-visible bytes into a file or device on the host. A fresh file is created sparse and only
 * non-zero chunks are sent; a device (or an existing file overwritten in place) gets every chunk, zeros included,
 * because its old contents must not show through.
 */
export async function uploadDisk(
  shell: RootShell,
  source: BlockSource,
  path: string,
  options: { readonly fresh: boolean; readonly signal: AbortSignal; readonly progress: (done: number) => void },
): Promise<void> {
  const { signal } = options
  if (options.fresh) await shell.run(sh`truncate -s ${source.size} -- ${path}`, { signal, what: `Creating ${path}` })
  const zeroExtents = options.fresh ? await zeroMap(source, signal) : undefined
  const writer = await RemoteWriter.open(shell, path, signal)
  let ok = false
  try {
    const reads: Promise<Lent | undefined>[] = []
    const chunks = Math.ceil(source.size / CHUNK)
    const readChunk = (i: number): Promise<Lent | undefined> => {
      const offset = i * CHUNK
      const length = Math.min(CHUNK, source.size - offset)
      if (zeroExtents?.(offset, length) === true) return Promise.resolve(undefined)
      // Passed on to the channel and never modified: a restore point lends its decoded chunk (no copy, and its memory
      // comes back for the next chunk once the channel has taken it), other sources read as usual.
      if (source.lend !== undefined) return source.lend(offset, length, signal)
      return source.read(offset, length, signal).then((data) => ({ data, release: () => undefined }))
    }
    let done = 0
    try {
      for (let i = 0; i < chunks; i++) {
        while (reads.length < READ_AHEAD && i + reads.length < chunks) reads.push(readChunk(i + reads.length))
        const lent = await reads.shift()
        if (signal.aborted) throw new AdapterError('CANCELLED', 'The restore was cancelled.')
        const offset = i * CHUNK
        if (lent !== undefined) {
          if (!(options.fresh && isAllZero(lent.data))) await writer.write(offset, lent.data, () => lent.release())
          else lent.release()
        }
        done += Math.min(CHUNK, source.size - offset)
        options.progress(done)
      }
    } finally {
      // Reads still under way when the upload stopped: their memory is left to the garbage collector.
      for (const r of reads) r.catch(() => undefined)
    }
    await writer.finish()
    ok = true
  } finally {
    if (!ok) writer.abort()
  }
}


/** A lookup "is [offset, offset+length) entirely a known-zero extent?", when the source can tell. */
async function zeroMap(source: BlockSource, signal: AbortSignal): Promise<((offset: number, length: number) => boolean) | undefined> {
  if (source.extents === undefined) return undefined
  const zeros: { offset: number; end: number }[] = []
  let n = 0
  for await (const e of source.extents(signal)) {
    if (e.kind === 'zero') zeros.push({ offset: e.offset, end: e.offset + e.length })
    if (++n > 10_000_000) break
  }
  return (offset, length) => {
    let lo = 0
    let hi = zeros.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const z = zeros[mid]
      if (z === undefined) break
      if (z.end <= offset) lo = mid + 1
      else if (z.offset > offset) hi = mid - 1
      else return z.end >= offset + length
    }
    return false
  }
}
