import { execFile } from 'node:child_process'
import { isTyped, listImage, type ListedEntry, type ListingOutcome } from './listing'

/** Test-only: runs Lifeboat over one public image within bounds, and compares listings with another tool's. */
export interface BoundedRun {
  readonly outcome?: ListingOutcome
  /** Not a listing or a typed error: a crash (any other error), a hang (the time ran out) or too much memory. */
  readonly failure?: string
  readonly ms: number
}

// The bound that tells a hang from slow work: f_many_subdirs (130,607 entries, 65,000 folders) takes 14 s on an
// idle 2-core development machine and over 30 s on a busy one.
export const PER_IMAGE_MS = 60_000
export const MAX_RSS = 1536 * 1024 * 1024

export async function boundedList(file: string, readData: boolean): Promise<BoundedRun> {
  const started = Date.now()
  const signal = AbortSignal.timeout(PER_IMAGE_MS)
  try {
    const outcome = await listImage(file, { signal, readData })
    const rss = process.memoryUsage().rss
    if (rss > MAX_RSS) return { outcome, failure: `memory: rss ${Math.round(rss / 2 ** 20)} MiB after this image`, ms: Date.now() - started }
    return { outcome, ms: Date.now() - started }
  } catch (e) {
    const why = signal.aborted ? `did not finish within ${PER_IMAGE_MS} ms` : `crashed: ${isTyped(e) ? '' : e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`
    return { failure: why, ms: Date.now() - started }
  }
}

/**
 * Exit status of a tool (e2fsck -fn: 0 = clean), never throwing for a non-zero one; 'timeout' when it had to be
 * stopped (e2fsck 1.47.0 -fn runs for minutes on f_illitable_flexbg).
 */
export function exitCode(cmd: string, args: readonly string[], timeoutMs = 15_000): Promise<number | 'timeout'> {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs, killSignal: 'SIGKILL' }, (err) => {
      if (err?.killed === true) resolve('timeout')
      else resolve(err && typeof err.code === 'number' ? err.code : err ? -1 : 0)
    })
  })
}

/** What differs between two listings, in a few words per path (empty when they are equal). */
export function listingDiff(ours: ReadonlyMap<string, ListedEntry>, theirs: ReadonlyMap<string, ListedEntry>, limit = 5): string[] {
  const out: string[] = []
  for (const [p, t] of theirs) {
    const o = ours.get(p)
    if (!o) out.push(`missing ${p} (${t.type})`)
    else if (o.type !== t.type) out.push(`${p}: type ${o.type}, not ${t.type}`)
    else if ((t.type === 'file' || t.type === 'symlink') && o.size !== t.size) out.push(`${p}: size ${o.size}, not ${t.size}`)
  }
  for (const p of ours.keys()) if (!theirs.has(p)) out.push(`extra ${p}`)
  return out.length > limit ? [...out.slice(0, limit), `… ${out.length - limit} more`] : out
}

/** Runs `fn` over items, `width` at a time (external tools overlap with the listing work). */
export async function inPool<T, R>(items: readonly T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T)
  }
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker))
  return out
}
