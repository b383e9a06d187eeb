import type { PointSummaryDto, SnapshotDto } from '../../../engine/api/contract'

/** One entry of a VM's restore timeline: a restore point in the repository or a snapshot still on the host. */
export type TimelineEntry = { readonly kind: 'point'; readonly key: string; readonly at: string; readonly point: PointSummaryDto } | { readonly kind: 'snapshot'; readonly key: string; readonly at: string | undefined; readonly snapshot: SnapshotDto }

/**
 * Restore points and live snapshots, newest first. A snapshot without a creation time goes last (the host did not
 * say when it was taken); equal times keep restore points first, since they survive the host.
 */
export function buildTimeline(points: readonly PointSummaryDto[], snapshots: readonly SnapshotDto[]): TimelineEntry[] {
  const entries: TimelineEntry[] = [
    ...points.map((p): TimelineEntry => ({ kind: 'point', key: `p:${p.id}`, at: p.finishedAt, point: p })),
    ...snapshots.map((s): TimelineEntry => ({ kind: 'snapshot', key: `s:${s.id}`, at: s.createdAt, snapshot: s })),
  ]
  const time = (e: TimelineEntry) => (e.at === undefined ? Number.NEGATIVE_INFINITY : Date.parse(e.at))
  return entries.sort((a, b) => time(b) - time(a) || (a.kind === b.kind ? 0 : a.kind === 'point' ? -1 : 1))
}
