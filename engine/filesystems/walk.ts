import { DiskFormatError } from '../disks/errors'
import { FilesystemError } from './errors'
import { createPacer, type Pacer } from './pace'
import type { FsNode, Volume } from './types'

/** Where a walk is: the handle, the names from the walk's root (exactly as stored) and a path for messages. */
export interface WalkVisit {
  readonly node: FsNode
  /** Names below the walk's root; the root itself has none. Never re-split: a name may hold '/' or '\'. */
  readonly parts: readonly string[]
  /** For messages and reports only ('/'-joined from the root path, so a name holding '/' reads ambiguously). */
  readonly path: string
  readonly depth: number
}

export type WalkEvent =
  | { readonly kind: 'enter'; readonly visit: WalkVisit; readonly skipChildren: () => void }
  | { readonly kind: 'leave'; readonly visit: WalkVisit }
  | { readonly kind: 'entry'; readonly visit: WalkVisit }

export type WalkProblemKind = 'loop' | 'repeat' | 'depth' | 'unreadable'

/** A folder the walk did not enter, and why in plain words. */
export interface WalkProblem {
  readonly path: string
  readonly kind: WalkProblemKind
  readonly reason: string
}

export interface WalkOptions {
  readonly signal?: AbortSignal
  /** Folders deeper than this are not entered (reported). Default 256. */
  readonly maxDepth?: number
  /** Objects after which the walk stops with a 'limit' error. Default 10 million. */
  readonly maxEntries?: number
  readonly onProblem?: (problem: WalkProblem) => void
  /** Shared with the caller's own loops, so the whole operation yields to the event loop at one rhythm. */
  readonly pacer?: Pacer
}

interface Frame {
  readonly visit: WalkVisit
  readonly children: readonly FsNode[]
  next: number
}

export const DEFAULT_MAX_DEPTH = 256

/**
 * The one directory walk of the filesystem layer (restore, archive, measure, search): depth first, parents before
 * children ('enter'), children before the parent is closed ('leave'). Hostile images cannot make it endless or
 * stall the engine: a folder whose key is already on the way down (a hard link to a parent) is a loop and is not
 * entered, a folder reached a second time by another hard link is entered once, depth and object counts are
 * bounded, the event loop gets a turn every few hundred objects or ~20 ms, and the signal is checked at every object.
 * Folders that cannot be read are reported and treated as empty, so one damaged folder does not end the walk.
 */
export async function* walk(volume: Volume, root: FsNode, rootPath: string, options: WalkOptions = {}): AsyncGenerator<WalkEvent> {
  const { signal } = options
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH
  const maxEntries = options.maxEntries ?? 10_000_000
  const pace = options.pacer ?? createPacer()
  const report = (problem: WalkProblem): void => options.onProblem?.(problem)
  const rootVisit: WalkVisit = { node: root, parts: [], path: rootPath, depth: 0 }
  signal?.throwIfAborted()
  if (root.entry.type !== 'directory') {
    yield { kind: 'entry', visit: rootVisit }
    return
  }
  const onTheWayDown = new Map<string, string>()
  const entered = new Set<string>()
  const stack: Frame[] = []
  let count = 0

  const children = async (visit: WalkVisit): Promise<readonly FsNode[]> => {
    // One damaged entry is left out and reported; its siblings are still walked.
    const onUnreadable = (name: string, reason: string): void =>
      report({ path: childPath(visit.path, name), kind: 'unreadable', reason: `it could not be read (${reason}); not restored` })
    try {
      return await volume.children(visit.node, { ...(signal ? { signal } : {}), onUnreadable })
    } catch (err) {
      if (signal?.aborted || !isImageDamage(err)) throw err
      report({ path: visit.path, kind: 'unreadable', reason: `the folder could not be read (${err.message}); its contents are missing` })
      return []
    }
  }
  const open = async function* (visit: WalkVisit): AsyncGenerator<WalkEvent> {
    entered.add(visit.node.key)
    const wanted = { children: true }
    yield { kind: 'enter', visit, skipChildren: () => (wanted.children = false) }
    onTheWayDown.set(visit.node.key, visit.path)
    stack.push({ visit, children: wanted.children ? await children(visit) : [], next: 0 })
  }

  yield* open(rootVisit)
  while (stack.length > 0) {
    const top = stack[stack.length - 1]
    if (!top) break
    const child = top.children[top.next++]
    if (child === undefined) {
      stack.pop()
      onTheWayDown.delete(top.visit.node.key)
      yield { kind: 'leave', visit: top.visit }
      continue
    }
    signal?.throwIfAborted()
    await pace()
    if (++count > maxEntries) throw new FilesystemError('limit', `Stopped after ${maxEntries} objects below ${rootPath}`)
    const name = child.entry.name
    const visit: WalkVisit = { node: child, parts: [...top.visit.parts, name], path: childPath(top.visit.path, name), depth: top.visit.depth + 1 }
    if (child.entry.type !== 'directory') {
      yield { kind: 'entry', visit }
      continue
    }
    const ancestor = onTheWayDown.get(child.key)
    if (ancestor !== undefined) {
      report({ path: visit.path, kind: 'loop', reason: `this folder is ${ancestor}, one of its own parents (a directory loop in a damaged or hostile filesystem); not followed` })
      continue
    }
    if (entered.has(child.key)) {
      report({ path: visit.path, kind: 'repeat', reason: 'this folder is a second name (hard link) of a folder already copied elsewhere; copied once' })
      continue
    }
    if (visit.depth > maxDepth) {
      report({ path: visit.path, kind: 'depth', reason: `the folder is more than ${maxDepth} levels deep; not entered` })
      continue
    }
    yield* open(visit)
  }
}

function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`
}

/** What a damaged or hostile image makes a driver throw (a bounded, described refusal), as opposed to a bug. */
export function isImageDamage(err: unknown): err is FilesystemError | DiskFormatError {
  return err instanceof FilesystemError || err instanceof DiskFormatError
}
