import { crc32c } from '../../disks/crc32c'
import { LruCache } from '../../disks/lru-cache'
import { FilesystemError } from '../errors'
import type { VolumeReader } from '../volume-reader'
import type { ChunkMap } from './btrfs-chunks'
import type { BtrfsSuperblock } from './btrfs-superblock'

const HEADER = 101
const ITEM = 25
const KEY_PTR = 33
export const MAX_LEVEL = 8

export interface Key {
  readonly objectid: bigint
  readonly type: number
  readonly offset: bigint
}

export interface Item {
  readonly key: Key
  readonly data: Buffer
}

/** Where a tree starts: its root block, that block's level and (when known) the generation it was written in. */
export interface TreeRoot {
  readonly bytenr: number
  readonly level: number
  readonly generation?: bigint
}

export const U64_MAX = 2n ** 64n - 1n

export function compareKey(a: Key, b: Key): number {
  if (a.objectid !== b.objectid) return a.objectid < b.objectid ? -1 : 1
  if (a.type !== b.type) return a.type < b.type ? -1 : 1
  if (a.offset !== b.offset) return a.offset < b.offset ? -1 : 1
  return 0
}

export function readKey(b: Buffer, at: number): Key {
  return { objectid: b.readBigUInt64LE(at), type: b[at + 8] ?? 0, offset: b.readBigUInt64LE(at + 9) }
}

interface TreeNode {
  readonly level: number
  readonly keys: readonly Key[]
  /** Internal nodes: child block and the generation it must carry. */
  readonly children: readonly { readonly bytenr: number; readonly generation: bigint }[]
  /** Leaves: each item's data. */
  readonly data: readonly Buffer[]
}

/**
 * Reads btrfs B-trees. Every block is checked before use: checksum, its own address, the filesystem's UUID, the
 * level its parent expects (so a descent always ends within 8 levels and cannot loop), the generation its parent
 * recorded, item counts against the node size, leaf items inside the leaf and keys in ascending order. A DUP copy
 * that fails is replaced by the other copy.
 */
export class TreeReader {
  private readonly cache = new LruCache<number, TreeNode>(2048)

  constructor(
    private readonly reader: VolumeReader,
    private readonly sb: BtrfsSuperblock,
    private readonly chunks: ChunkMap,
  ) {}

  private fail(bytenr: number, why: string): FilesystemError {
    return new FilesystemError('corrupt', `${this.reader.label}: btrfs tree block ${bytenr} ${why}`, { bytenr })
  }

  async node(bytenr: number, level: number, generation: bigint | undefined, signal?: AbortSignal): Promise<TreeNode> {
    const hit = this.cache.get(bytenr)
    if (hit && hit.level === level) return hit
    let first: unknown
    for (const physical of this.chunks.map(bytenr, this.sb.nodeSize, 'btrfs tree block')) {
      try {
        const node = this.parse(await this.reader.meta(physical, this.sb.nodeSize, 'btrfs tree block', signal), bytenr, level, generation)
        this.cache.set(bytenr, node)
        return node
      } catch (e) {
        if (!(e instanceof FilesystemError)) throw e
        first ??= e
      }
    }
    throw first instanceof Error ? first : this.fail(bytenr, 'could not be read')
  }

  private parse(b: Buffer, bytenr: number, level: number, generation: bigint | undefined): TreeNode {
    const size = this.sb.nodeSize
    if (b.length !== size) throw this.fail(bytenr, 'is truncated')
    if (crc32c(b.subarray(32)) !== b.readUInt32LE(0)) throw this.fail(bytenr, 'has a bad checksum')
    if (b.readBigUInt64LE(0x30) !== BigInt(bytenr)) throw this.fail(bytenr, 'names another address for itself')
    if (!b.subarray(0x20, 0x30).equals(this.sb.metadataFsid)) throw this.fail(bytenr, 'belongs to another filesystem')
    const gen = b.readBigUInt64LE(0x50)
    if (gen > this.sb.generation || (generation !== undefined && gen !== generation)) throw this.fail(bytenr, `has generation ${gen}, expected ${generation ?? `at most ${this.sb.generation}`}`)
    const nritems = b.readUInt32LE(0x60)
    const got = b[0x64] ?? 0
    if (got !== level) throw this.fail(bytenr, `is at level ${got}, expected ${level}`)
    const keys: Key[] = []
    const children: { bytenr: number; generation: bigint }[] = []
    const data: Buffer[] = []
    if (level > 0) {
      if (nritems === 0 || HEADER + nritems * KEY_PTR > size) throw this.fail(bytenr, `claims ${nritems} children`)
      for (let i = 0; i < nritems; i++) {
        const at = HEADER + i * KEY_PTR
        keys.push(readKey(b, at))
        const child = b.readBigUInt64LE(at + 17)
        if (child > BigInt(Number.MAX_SAFE_INTEGER)) throw this.fail(bytenr, 'points to an impossible child')
        children.push({ bytenr: Number(child), generation: b.readBigUInt64LE(at + 25) })
      }
    } else {
      const room = size - HEADER
      if (nritems * ITEM > room) throw this.fail(bytenr, `claims ${nritems} items`)
      for (let i = 0; i < nritems; i++) {
        const at = HEADER + i * ITEM
        keys.push(readKey(b, at))
        const offset = b.readUInt32LE(at + 17)
        const len = b.readUInt32LE(at + 21)
        if (offset < nritems * ITEM || offset + len > room) throw this.fail(bytenr, `has item ${i} outside the leaf`)
        data.push(b.subarray(HEADER + offset, HEADER + offset + len))
      }
    }
    for (let i = 1; i < keys.length; i++) {
      const a = keys[i - 1]
      const c = keys[i]
      if (a && c && compareKey(a, c) >= 0) throw this.fail(bytenr, 'has keys out of order')
    }
    return { level, keys, children, data }
  }

  /** Items with min ≤ key ≤ max, in key order. */
  async *items(root: TreeRoot, min: Key, max: Key, signal?: AbortSignal): AsyncIterable<Item> {
    if (root.level >= MAX_LEVEL) throw this.fail(root.bytenr, `is a root at impossible level ${root.level}`)
    yield* this.walk(root.bytenr, root.level, root.generation, min, max, signal)
  }

  private async *walk(bytenr: number, level: number, generation: bigint | undefined, min: Key, max: Key, signal?: AbortSignal): AsyncIterable<Item> {
    signal?.throwIfAborted()
    const node = await this.node(bytenr, level, generation, signal)
    const { keys } = node
    if (level === 0) {
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]
        const data = node.data[i]
        if (!key || !data || compareKey(key, min) < 0) continue
        if (compareKey(key, max) > 0) return
        yield { key, data }
      }
      return
    }
    let i = 0
    while (i + 1 < keys.length && compareKey(keys[i + 1] ?? min, min) <= 0) i++
    for (; i < keys.length; i++) {
      const key = keys[i]
      const child = node.children[i]
      if (!key || !child || compareKey(key, max) > 0) return
      yield* this.walk(child.bytenr, level - 1, child.generation, min, max, signal)
    }
  }

  /** The item with exactly this key, if any. */
  async find(root: TreeRoot, key: Key, signal?: AbortSignal): Promise<Buffer | undefined> {
    for await (const item of this.items(root, key, key, signal)) return item.data
    return undefined
  }

  /** The first item of (objectid, type) with any offset. */
  async first(root: TreeRoot, objectid: bigint, type: number, signal?: AbortSignal): Promise<Item | undefined> {
    for await (const item of this.items(root, { objectid, type, offset: 0n }, { objectid, type, offset: U64_MAX }, signal)) return item
    return undefined
  }

  clear(): void {
    this.cache.clear()
  }
}
