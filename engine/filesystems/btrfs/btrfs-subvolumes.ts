import { FilesystemError } from '../errors'
import { ROOT_BACKREF, parseRootRef } from './btrfs-items'
import { U64_MAX, type TreeReader, type TreeRoot } from './btrfs-tree'

/** What walking the subvolumes needs of the driver (BtrfsDriver passes itself). */
export interface SubvolumeSource {
  readonly info: { readonly label: string }
  readonly tree: TreeReader
  readonly rootTree: TreeRoot
  subvolumeRoot(id: bigint, signal?: AbortSignal): Promise<TreeRoot & { readonly rootDirid: bigint }>
}

const FS_TREE = 5n
const ROOT_DIRID = 256n
const INODE_REF = 12
const MAX_STEPS = 256
/** Subvolume ids start at 256; the root tree's other objects (its own trees, free-space cache inodes) are below. */
const FIRST_SUBVOLUME = 256n
const LAST_SUBVOLUME = 2n ** 64n - 256n

export interface SubvolumeInfo {
  readonly id: bigint
  readonly parent: bigint
  /** Where it appears as a folder, from the top-level subvolume ("/home", "/@/.snapshots/1/snapshot"). */
  readonly path: string
}

/** Name of directory `ino` within its subvolume, walking INODE_REFs up to the subvolume's top (bounded). */
async function dirPath(d: SubvolumeSource, tree: bigint, ino: bigint, signal?: AbortSignal): Promise<string[]> {
  const root = await d.subvolumeRoot(tree, signal)
  const names: string[] = []
  let at = ino
  for (let steps = 0; at !== root.rootDirid && at !== ROOT_DIRID; steps++) {
    if (steps > MAX_STEPS) throw new FilesystemError('loop', `${d.info.label}: btrfs directory ${ino} of subvolume ${tree} has no way up to the top`)
    const ref = await d.tree.first(root, at, INODE_REF, signal)
    if (!ref || ref.data.length < 10) throw new FilesystemError('corrupt', `${d.info.label}: btrfs directory ${at} of subvolume ${tree} has no name`)
    const len = ref.data.readUInt16LE(8)
    if (10 + len > ref.data.length) throw new FilesystemError('corrupt', `${d.info.label}: btrfs directory ${at} has a damaged name`)
    names.unshift(ref.data.toString('utf8', 10, 10 + len))
    at = ref.key.offset
  }
  return names
}

/** Where subvolume `id` appears, as a path from the top-level subvolume; follows ROOT_BACKREFs (bounded). */
export async function subvolumePath(d: SubvolumeSource, id: bigint, signal?: AbortSignal): Promise<string> {
  const parts: string[] = []
  let at = id
  for (let steps = 0; at !== FS_TREE; steps++) {
    if (steps > MAX_STEPS) throw new FilesystemError('loop', `${d.info.label}: btrfs subvolume ${id} has no way up to the top-level subvolume`)
    const ref = await d.tree.first(d.rootTree, at, ROOT_BACKREF, signal)
    if (!ref) throw new FilesystemError('not-found', `${d.info.label}: btrfs subvolume ${at} is not linked into any folder`)
    const { dirid, name } = parseRootRef(ref.data, `btrfs root backref of ${at}`, d.info.label)
    parts.unshift(...(await dirPath(d, ref.key.offset, dirid, signal)), name)
    at = ref.key.offset
  }
  return `/${parts.join('/')}`
}

/** Every subvolume and snapshot linked into the filesystem, with where it appears. */
export async function listSubvolumes(d: SubvolumeSource, signal?: AbortSignal): Promise<SubvolumeInfo[]> {
  const out: SubvolumeInfo[] = []
  const min = { objectid: FIRST_SUBVOLUME, type: 0, offset: 0n }
  const max = { objectid: LAST_SUBVOLUME, type: 255, offset: U64_MAX }
  for await (const item of d.tree.items(d.rootTree, min, max, signal)) {
    if (item.key.type !== ROOT_BACKREF) continue
    out.push({ id: item.key.objectid, parent: item.key.offset, path: await subvolumePath(d, item.key.objectid, signal) })
  }
  return out
}
