import type { PointCheckDto, PointSummaryDto } from '../../../engine/api/contract'

/** Per VM id: when the newest check that booted one of its points ran. */
export function lastProvenBootable(points: readonly PointSummaryDto[]): Map<string, string> {
  const newest = new Map<string, string>()
  for (const p of points) {
    const at = p.lastCheck?.verdict === 'booted' ? p.lastCheck.checkedAt : undefined
    const current = newest.get(p.vm.id)
    if (at !== undefined && (current === undefined || at > current)) newest.set(p.vm.id, at)
  }
  return newest
}

/** Restore points whose latest health check failed, the newest check first. */
export function failedChecks(points: readonly PointSummaryDto[]): (PointSummaryDto & { lastCheck: PointCheckDto })[] {
  return points
    .filter((p): p is PointSummaryDto & { lastCheck: PointCheckDto } => p.lastCheck?.verdict === 'failed')
    .sort((a, b) => b.lastCheck.checkedAt.localeCompare(a.lastCheck.checkedAt))
}
