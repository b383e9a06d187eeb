import type { Pacer } from '../pace'
import type { FsEntry, FsNode, Volume } from '../types'
import { walk, type WalkProblem } from '../walk'

/** What copying a file or folder will take, counted before anything is written. */
export interface RestorePlan {
  readonly files: number
  readonly directories: number
  readonly symlinks: number
  /** Sum of file sizes (what progress counts). */
  readonly bytes: number
  /**
   * Bytes the copy is expected to take on the target: files' allocated data (holes excluded where the filesystem
   * records it) rounded up to 4 KiB blocks, plus a block per folder and link.
   */
  readonly diskBytes: number
  readonly problems: readonly WalkProblem[]
}

const BLOCK = 4096

export async function measureTree(volume: Volume, root: FsNode, rootPath: string, options: { signal?: AbortSignal; pacer?: Pacer } = {}): Promise<RestorePlan> {
  let files = 0
  let directories = 0
  let symlinks = 0
  let bytes = 0
  let diskBytes = 0
  const problems: WalkProblem[] = []
  for await (const ev of walk(volume, root, rootPath, { ...options, onProblem: (p) => problems.push(p) })) {
    const e = ev.visit.node.entry
    if (ev.kind === 'enter') {
      directories++
      diskBytes += BLOCK
    } else if (ev.kind === 'entry' && e.type === 'file') {
      files++
      bytes += e.size
      diskBytes += diskEstimate(e)
    } else if (ev.kind === 'entry' && e.type === 'symlink') {
      symlinks++
      diskBytes += BLOCK
    }
  }
  return { files, directories, symlinks, bytes, diskBytes, problems }
}

/** Blocks a restored copy of a file takes: what the guest stored (never more than its size), at least one block. */
export function diskEstimate(e: FsEntry): number {
  const full = roundUp(e.size)
  if (e.size === 0) return 0
  return Math.max(BLOCK, e.allocated !== undefined ? Math.min(roundUp(e.allocated), full) : full)
}

function roundUp(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK
}
