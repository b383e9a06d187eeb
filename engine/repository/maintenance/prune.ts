import { throwIfCancelled } from '../errors.js'
import { lockRepository } from '../repo-lock.js'
import { listPointIds, loadSummaries, trashPoint } from '../points.js'
import { pointKey } from '../format.js'
import { applyRetention, type RetentionDecision, type RetentionPolicy } from './retention.js'
import type { RepoContext } from '../context.js'

export interface PruneOptions {
  readonly policy: RetentionPolicy
  /** List what would go and why the rest is kept, without changing anything. */
  readonly dryRun?: boolean
  /** Only these VMs' restore points (by VM id) are considered; the rest are left alone. Default: every VM. */
  readonly vmIds?: readonly string[]
  readonly signal?: AbortSignal
}

export interface PruneReport {
  readonly dryRun: boolean
  readonly kept: readonly RetentionDecision[]
  readonly removed: readonly RetentionDecision[]
  /** Points whose manifest could not be read: never removed by prune (verify/check explain them). */
  readonly skipped: readonly { readonly pointId: string; readonly reason: string }[]
  /** Points the rules would remove but S3 Object Lock still protects (kept until the date; a later prune removes them). */
  readonly locked: readonly { readonly pointId: string; readonly until: string }[]
}

/**
 * Applies a retention policy. Removed points disappear from the list at once; their chunks are freed by the next
 * gc(), which knows whether a running backup may still be reusing them.
 */
export async function prune(ctx: RepoContext, options: PruneOptions): Promise<PruneReport> {
  const { signal } = options
  const dryRun = options.dryRun ?? false
  const run = async (): Promise<PruneReport> => {
    const skipped: { pointId: string; reason: string }[] = []
    const summaries = await loadSummaries(ctx, await listPointIds(ctx, signal), signal, (pointId, error) => skipped.push({ pointId, reason: error.message }))
    const candidates = summaries
      .filter((p) => options.vmIds === undefined || options.vmIds.includes(p.vm.id))
      .map((p) => ({ id: p.id, group: p.vm.id, time: new Date(p.startedAt) }))
    const decisions = applyRetention(candidates, options.policy)
    const locked: { pointId: string; until: string }[] = []
    const removed = []
    for (const d of decisions.filter((x) => !x.keep)) {
      throwIfCancelled(signal, 'Some restore points may already have been removed; the report of a new dry run shows what is left.')
      // Asked first, so a locked point is skipped with its date instead of a refused delete.
      const until = await ctx.backend.objectLock?.lockedUntil(pointKey(d.id), signal)
      if (until !== undefined) {
        locked.push({ pointId: d.id, until: new Date(until).toISOString() })
        continue
      }
      if (!dryRun) await trashPoint(ctx, d.id, signal)
      removed.push(d)
    }
    return { dryRun, kept: decisions.filter((d) => d.keep), removed, skipped, locked }
  }
  if (dryRun) return run()
  await using _lock = await lockRepository(ctx, 'maintenance', 'prune', signal)
  return await run()
}
