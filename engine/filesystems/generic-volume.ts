import type { DriverDirent, FsDriver } from './driver'
import { FilesystemError } from './errors'
import { globToRegExp } from './glob'
import { LruCache } from '../disks/lru-cache'
import { createPacer } from './pace'
import type { ChildrenOptions, DataPiece, FsEntry, FsNode, ReadFileOptions, SearchHit, SearchLimits, Volume, VolumeInfo } from './types'
import { isImageDamage, walk } from './walk'

/** A handle given out by one GenericVolume: the driver's node stays inside, callers see the entry and key. */
class Handle<N> implements FsNode {
  constructor(
    readonly entry: FsEntry,
    readonly key: string,
    readonly node: N,
    readonly owner: object,
  ) {}
}

const MAX_SYMLINK_HOPS = 40
const MAX_PATH_COMPONENTS = 4096

/** Path walking, symlinks, listing and search over any driver. Directory contents are cached (LRU). */
export class GenericVolume<N> implements Volume {
  private readonly dirCache = new LruCache<string, { entries: DriverDirent<N>[]; byName: Map<string, DriverDirent<N>> }>(256)

  constructor(private readonly driver: FsDriver<N>) {}

  get info(): VolumeInfo {
    return this.driver.info
  }

  private fold(name: string): string {
    return this.driver.info.caseInsensitive ? name.toUpperCase() : name
  }

  async readDir(dir: N, signal?: AbortSignal): Promise<DriverDirent<N>[]> {
    return (await this.indexedDir(dir, signal)).entries
  }

  /** Directory contents plus a name index, so walking a path through a huge folder is not quadratic. */
  private async indexedDir(dir: N, signal?: AbortSignal): Promise<{ entries: DriverDirent<N>[]; byName: Map<string, DriverDirent<N>> }> {
    const key = this.driver.key(dir)
    let cached = this.dirCache.get(key)
    if (!cached) {
      const entries = await this.driver.readDir(dir, signal)
      const byName = new Map<string, DriverDirent<N>>()
      // The first of duplicate names wins (only a damaged directory has duplicates).
      for (const e of entries) if (!byName.has(this.fold(e.name))) byName.set(this.fold(e.name), e)
      cached = { entries, byName }
      this.dirCache.set(key, cached)
    }
    return cached
  }

  /** Resolves a path to a node; intermediate symlinks are followed, the last one only if `followLast`. */
  async resolve(path: string, followLast: boolean, signal?: AbortSignal): Promise<{ node: N; name: string }> {
    const root = await this.driver.root(signal)
    let pending = splitPath(path)
    const stack: { node: N; name: string }[] = [{ node: root, name: '/' }]
    let hops = 0
    while (pending.length > 0) {
      signal?.throwIfAborted()
      const [part, ...rest] = pending
      pending = rest
      if (part === undefined) break
      if (part === '..') {
        if (stack.length > 1) stack.pop()
        continue
      }
      const dir = stack[stack.length - 1]
      if (!dir) break
      const want = this.fold(part)
      const found = (await this.indexedDir(dir.node, signal)).byName.get(want)
      if (!found) throw new FilesystemError('not-found', `${this.info.label || this.info.type}: ${path} not found (no "${part}" in ${dir.name})`, { path })
      const entry = await this.driver.describe(found.node, found.name, signal)
      if (entry.type === 'symlink' && (rest.length > 0 || followLast)) {
        if (++hops > MAX_SYMLINK_HOPS) throw new FilesystemError('loop', `${path}: too many levels of symbolic links`, { path })
        const target = await this.driver.readlink(found.node, signal)
        if (target.startsWith('/')) stack.splice(1)
        pending = [...splitPath(target), ...pending]
        if (pending.length > MAX_PATH_COMPONENTS) throw new FilesystemError('loop', `${path}: symbolic links expand to an absurdly long path`, { path })
        continue
      }
      stack.push({ node: found.node, name: found.name })
    }
    const last = stack[stack.length - 1]
    if (!last) throw new FilesystemError('not-found', `${path} not found`, { path })
    return last
  }

  async list(path: string, options: { signal?: AbortSignal } = {}): Promise<FsEntry[]> {
    const { node } = await this.resolve(path, true, options.signal)
    return (await this.describeAll(node, options.signal)).map((h) => h.entry)
  }

  async node(path: string, options: { signal?: AbortSignal } = {}): Promise<FsNode> {
    const { node, name } = await this.resolve(path, false, options.signal)
    return new Handle(await this.driver.describe(node, name, options.signal), this.driver.key(node), node, this)
  }

  async children(dir: FsNode, options: ChildrenOptions = {}): Promise<FsNode[]> {
    return this.describeAll(this.unwrap(dir), options.signal, options.onUnreadable)
  }

  async *readNode(node: FsNode, options: ReadFileOptions = {}): AsyncIterable<Buffer> {
    if (node.entry.type === 'directory') throw new FilesystemError('is-a-directory', `${node.entry.name} is a directory`)
    yield* this.driver.read(this.unwrap(node), options)
  }

  async *readData(node: FsNode, options: { signal?: AbortSignal } = {}): AsyncIterable<DataPiece> {
    if (node.entry.type !== 'file') throw new FilesystemError('invalid-argument', `${node.entry.name} is not a regular file`)
    const n = this.unwrap(node)
    if (this.driver.readData) {
      yield* this.driver.readData(n, options.signal)
      return
    }
    let offset = 0
    for await (const data of this.driver.read(n, options)) {
      yield { offset, data }
      offset += data.length
    }
  }

  private unwrap(node: FsNode): N {
    // Handles are only ever made by this class for node type N; the owner check refuses another volume's handle.
    if (!(node instanceof Handle) || node.owner !== this) throw new FilesystemError('invalid-argument', `${node.entry.name} does not belong to this volume`)
    return (node as Handle<N>).node
  }

  /**
   * Entries of a directory with their descriptions; a huge cached folder still gives the event loop its turns. With
   * `onUnreadable`, an entry the image cannot describe is reported and left out instead of failing the listing, so
   * one damaged inode does not hide its siblings from a restore (as `debugfs rdump` and `tsk_recover` go on).
   */
  private async describeAll(dir: N, signal?: AbortSignal, onUnreadable?: (name: string, reason: string) => void): Promise<Handle<N>[]> {
    const entries = await this.readDir(dir, signal)
    const pace = createPacer()
    const out: Handle<N>[] = []
    for (const e of entries) {
      signal?.throwIfAborted()
      await pace()
      let entry: FsEntry
      try {
        entry = await this.driver.describe(e.node, e.name, signal)
      } catch (err) {
        if (onUnreadable === undefined || signal?.aborted || !isImageDamage(err)) throw err
        onUnreadable(e.name, err.message)
        continue
      }
      out.push(new Handle(entry, this.driver.key(e.node), e.node, this))
    }
    return out
  }

  async stat(path: string, options: { signal?: AbortSignal } = {}): Promise<FsEntry> {
    const { node, name } = await this.resolve(path, false, options.signal)
    return this.driver.describe(node, name, options.signal)
  }

  async readlink(path: string, options: { signal?: AbortSignal } = {}): Promise<string> {
    const { node, name } = await this.resolve(path, false, options.signal)
    const entry = await this.driver.describe(node, name, options.signal)
    if (entry.type !== 'symlink') throw new FilesystemError('not-a-symlink', `${path} is not a symbolic link`, { path })
    return this.driver.readlink(node, options.signal)
  }

  async *readFile(path: string, options: ReadFileOptions = {}): AsyncIterable<Buffer> {
    const { node, name } = await this.resolve(path, true, options.signal)
    const entry = await this.driver.describe(node, name, options.signal)
    if (entry.type === 'directory') throw new FilesystemError('is-a-directory', `${path} is a directory`, { path })
    yield* this.driver.read(node, options)
  }

  async *search(root: string, pattern: string | RegExp, limits: SearchLimits = {}): AsyncIterable<SearchHit> {
    const re = typeof pattern === 'string' ? globToRegExp(pattern, this.info.caseInsensitive) : pattern
    const maxResults = limits.maxResults ?? 1000
    const maxVisited = limits.maxVisited ?? 1_000_000
    const { node, name } = await this.resolve(root, true, limits.signal)
    const start = new Handle(await this.driver.describe(node, name, limits.signal), this.driver.key(node), node, this)
    let results = 0
    let visited = 0
    const events = walk(this, start, normalise(root), {
      maxDepth: limits.maxDepth ?? 64,
      ...(limits.signal ? { signal: limits.signal } : {}),
      ...(limits.onProblem ? { onProblem: limits.onProblem } : {}),
    })
    for await (const ev of events) {
      if (ev.kind === 'leave' || ev.visit.depth === 0) continue
      if (++visited > maxVisited) return
      if (re.test(ev.visit.node.entry.name)) {
        yield { path: ev.visit.path, entry: ev.visit.node.entry }
        if (++results >= maxResults) return
      }
    }
  }

  close(): Promise<void> {
    this.dirCache.clear()
    return this.driver.close()
  }
}

export function splitPath(path: string): string[] {
  return path.split('/').filter((p) => p !== '' && p !== '.')
}

function normalise(path: string): string {
  const parts = splitPath(path)
  return parts.length === 0 ? '/' : `/${parts.join('/')}`
}
