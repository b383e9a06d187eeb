import { posix } from 'node:path'
import { AdapterError } from '../host-adapter'
import type { RootShell } from '../ssh/root-shell'
import { sh } from '../ssh/shell-quote'
import { jobTag } from './job-lock'

export interface BtrfsSnapshot {
  /** The read-only snapshot subvolume. */
  readonly path: string
  /** Where the disk file is inside the snapshot. */
  readonly file: string
}

/**
 * The subvolume holding a file on btrfs: walking up from the file, the first folder with inode 256 is a subvolume
 * root (btrfs gives every subvolume root that inode number). Undefined when the file is not on btrfs.
 */
export async function btrfsSubvolumeOf(shell: RootShell, file: string, signal: AbortSignal): Promise<string | undefined> {
  const script = '[ "$(stat -f -c %T "$1" 2>/dev/null)" = btrfs ] || exit 0; d=$(dirname "$1"); n=0; while [ "$n" -lt 256 ]; do [ "$(stat -c %i "$d")" = 256 ] && { printf "%s\\n" "$d" | base64 -w0; exit 0; }; [ "$d" = / ] && exit 0; d=$(dirname "$d"); n=$((n+1)); done'
  const out = await shell.run(sh`sh -c ${script} lifeboat-btrfs ${file}`, { signal, timeoutMs: 30_000, maxOutputBytes: 64 * 1024 })
  if (out.trim() === '') return undefined
  return Buffer.from(out.trim(), 'base64').toString('utf8').replace(/\n$/, '')
}

/** `btrfs subvolume snapshot -r`: instant and atomic for the whole subvolume; placed inside it, tagged with the job. */
export async function createBtrfsSnapshot(shell: RootShell, subvolume: string, file: string, jobId: string, signal: AbortSignal): Promise<BtrfsSnapshot> {
  const rel = posix.relative(subvolume, file)
  if (rel.startsWith('..') || posix.isAbsolute(rel)) throw new AdapterError('BAD_RESPONSE', `${file} is not inside ${subvolume}.`)
  const path = posix.join(subvolume, `.${jobTag(jobId)}`)
  await shell.run(sh`btrfs subvolume snapshot -r ${subvolume} ${path}`, { signal, timeoutMs: 120_000, what: 'btrfs subvolume snapshot' })
  return { path, file: posix.join(path, rel) }
}

export async function removeBtrfsSnapshot(shell: RootShell, snap: BtrfsSnapshot, signal: AbortSignal): Promise<string | undefined> {
  const r = await shell.exec(sh`btrfs subvolume delete ${snap.path}`, { signal, timeoutMs: 120_000 })
  if (r.code === 0) return undefined
  return `The btrfs snapshot ${snap.path} could not be deleted (${r.stderr.trim().slice(0, 200)}); delete it with: btrfs subvolume delete ${snap.path}`
}
