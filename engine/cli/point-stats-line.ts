import { formatBytes } from './cli-io'

interface Stats {
  readonly bytesRead: number
  readonly bytesNew: number
  readonly bytesStored: number
  readonly bytesHoles?: number | undefined
  readonly bytesZero?: number | undefined
}

/** What a backup read and skipped, in one line; points from before holes and zeros were counted show only the rest. */
export function pointStatsLine(stats: Stats): string {
  const skipped =
    stats.bytesHoles === undefined && stats.bytesZero === undefined
      ? ''
      : `, ${formatBytes(stats.bytesHoles ?? 0)} skipped as holes, ${formatBytes(stats.bytesZero ?? 0)} found as zeros`
  return `${formatBytes(stats.bytesRead)} read${skipped}, ${formatBytes(stats.bytesNew)} new, ${formatBytes(stats.bytesStored)} stored.`
}
