import { statfs } from 'node:fs/promises'
import type { NotifyEvent } from './events'
import type { AlertEpisodes } from './alert-episodes'

/** Below this share of its filesystem free, a repository is "low on space" (a week of backups rarely needs more). */
export const SPACE_LOW_FRACTION = 0.1

/** A repository on this machine's filesystems, by its normalised location and folder. */
export interface LocalRepository {
  readonly location: string
  readonly path: string
}

export interface OverdueSnapshot {
  /** Stable identity: host id, VM id and snapshot id. */
  readonly key: string
  readonly vm: string
  readonly snapshot: string
  readonly reviewBy: string
}

/** Free space of each repository folder; a folder that cannot be measured (unmounted, gone) is left out. */
export async function measureSpace(repos: readonly LocalRepository[]): Promise<{ repo: LocalRepository; freeBytes: number; totalBytes: number }[]> {
  const out = []
  for (const repo of repos) {
    try {
      const s = await statfs(repo.path)
      out.push({ repo, freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize })
    } catch {
      // Nothing to say about a folder that cannot be asked.
    }
  }
  return out
}

/** `repo-space-low` for each repository that just went below the limit (once per episode). */
export async function spaceLowEvents(repos: readonly LocalRepository[], episodes: AlertEpisodes, now: Date, measure = measureSpace): Promise<NotifyEvent[]> {
  const measured = await measure(repos)
  const low = measured.filter((m) => m.totalBytes > 0 && m.freeBytes < m.totalBytes * SPACE_LOW_FRACTION)
  const fresh = new Set(await episodes.update('space:', low.map((m) => m.repo.location), now))
  return low.filter((m) => fresh.has(m.repo.location)).map((m) => ({ kind: 'repo-space-low', repository: m.repo.location, freeBytes: m.freeBytes, totalBytes: m.totalBytes }))
}

/** `snapshot-review` for each snapshot newly seen past its review date (once, until it is kept or removed). */
export async function snapshotReviewEvents(hostVmKey: string, overdue: readonly OverdueSnapshot[], episodes: AlertEpisodes, now: Date): Promise<NotifyEvent[]> {
  // One family per VM: the VM's snapshot list is the whole truth for that VM, not for the others.
  const fresh = new Set(await episodes.update(`review:${hostVmKey}/`, overdue.map((o) => o.key), now))
  return overdue.filter((o) => fresh.has(o.key)).map((o) => ({ kind: 'snapshot-review', vm: o.vm, snapshot: o.snapshot, reviewBy: o.reviewBy }))
}
