import { lstat, lutimes, readlink, symlink, unlink } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import type { Pacer } from '../pace'
import { joinInside, symlinkStaysInside } from './safe-names'

/** A symbolic link a restore wants to create, at `at` (components below the restore folder). */
export interface PendingLink {
  readonly at: readonly string[]
  readonly target: string
  /** The link's path in the image, for the report. */
  readonly path: string
  readonly mtime?: Date
}

const MAX_HOPS = 40
const MAX_COMPONENTS = 4096

/**
 * Creates the links of a restore, after all its files and folders exist, so that none of them can lead outside the
 * restore folder — not even through one another (`s -> .` then `x -> s/s/../../etc` is harmless text but leaves the
 * folder once `s` exists). Each target is resolved component by component against what is on the local disk plus
 * the links about to be created, as the kernel would resolve it (at most 40 links, never above the folder). A link
 * that fails is dropped, and because dropping one can change how others resolve, the check repeats until nothing
 * changes. Only then are the links created, and the check runs once more on the disk alone, for targets whose
 * filesystem folds case or normalises names (the in-memory check cannot see those spellings meet).
 */
export async function placeLinks(root: string, links: readonly PendingLink[], options: { pacer: Pacer; signal?: AbortSignal; preserveTimes: boolean }): Promise<{ created: number; refused: { path: string; reason: string }[] }> {
  const base = resolve(root)
  const refused: { path: string; reason: string }[] = []
  const candidates = new Map<string, PendingLink>()
  for (const l of links) {
    const at = joinInside(base, l.at)
    if (!symlinkStaysInside(base, dirname(at), l.target)) refused.push({ path: l.path, reason: `the link points outside the restore folder (${l.target})` })
    else candidates.set(keyOf(l.at), l)
  }
  for (let changed = true; changed; ) {
    changed = false
    for (const [key, l] of candidates) {
      options.signal?.throwIfAborted()
      await options.pacer()
      const problem = await escapes(base, l, candidates)
      if (problem === undefined) continue
      candidates.delete(key)
      refused.push({ path: l.path, reason: `the link would lead outside the restore folder (${l.target}: ${problem})` })
      changed = true
    }
  }
  const made: PendingLink[] = []
  for (const l of candidates.values()) {
    options.signal?.throwIfAborted()
    await options.pacer()
    const at = joinInside(base, l.at)
    try {
      await symlink(l.target, at)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'EEXIST' && code !== 'ENAMETOOLONG') throw err
      refused.push({ path: l.path, reason: code === 'EEXIST' ? 'something with this name already exists in the restore folder' : "its path is longer than the restore folder's filesystem allows" })
      continue
    }
    made.push(l)
  }
  // Checked again on the disk alone: a case-insensitive or Unicode-normalising target (macOS, Windows shares) can
  // make a name reach a link the check above saw under another spelling.
  const none = new Map<string, PendingLink>()
  for (let changed = true; changed; ) {
    changed = false
    for (const [i, l] of made.entries()) {
      options.signal?.throwIfAborted()
      await options.pacer()
      const problem = await escapes(base, l, none)
      if (problem === undefined) continue
      await unlink(joinInside(base, l.at))
      made.splice(i, 1)
      refused.push({ path: l.path, reason: `the link would lead outside the restore folder (${l.target}: ${problem})` })
      changed = true
      break
    }
  }
  for (const l of made) if (options.preserveTimes && l.mtime) await lutimes(joinInside(base, l.at), l.mtime, l.mtime).catch(() => undefined)
  return { created: made.length, refused }
}

function keyOf(parts: readonly string[]): string {
  return parts.join('\0')
}

/** Why resolving the link's target leaves `base`, or undefined when it stays inside. */
async function escapes(base: string, link: PendingLink, candidates: ReadonlyMap<string, PendingLink>): Promise<string | undefined> {
  let at = link.at.slice(0, -1)
  let pending = link.target.split('/')
  let hops = 0
  while (pending.length > 0) {
    const [part, ...rest] = pending
    pending = rest
    if (part === undefined || part === '' || part === '.') continue
    if (part === '..') {
      if (at.length === 0) return 'it goes above the restore folder'
      at = at.slice(0, -1)
      continue
    }
    const next = [...at, part]
    let target: string | undefined
    try {
      target = candidates.get(keyOf(next))?.target ?? (await diskLink(join(base, ...next)))
    } catch (err) {
      return `it could not be checked (${(err as NodeJS.ErrnoException).code ?? String(err)})`
    }
    if (target === undefined) {
      at = next
      continue
    }
    if (++hops > MAX_HOPS) return 'too many levels of links'
    if (target.startsWith('/')) return `it passes through ${next.join('/')}, a link to an absolute path`
    pending = [...target.split('/'), ...pending]
    if (pending.length > MAX_COMPONENTS) return 'the links expand to an absurdly long path'
  }
  return undefined
}

async function diskLink(path: string): Promise<string | undefined> {
  try {
    return (await lstat(path)).isSymbolicLink() ? await readlink(path) : undefined
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    throw err
  }
}
