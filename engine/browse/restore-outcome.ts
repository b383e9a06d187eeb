/** One item a file restore did not bring back as it was in the source. */
export interface NotRestored {
  readonly path: string
  readonly reason: string
}

export interface Renamed {
  readonly path: string
  readonly to: string
}

/** Everything a file restore left out or changed, in full (a hostile image can make this long). */
export interface RestoreOutcome {
  readonly notRestored: NotRestored[]
  readonly renames: Renamed[]
}

/**
 * The job record is saved to disk and sent to every window: it keeps only the first items of each list (the counts
 * stay exact), so an image with millions of device nodes cannot bloat it. The full lists stay in memory for the
 * process that ran the restore (the CLI's --json).
 */
export const LISTED_IN_JOB = 1000

/** How many recent restores keep their full outcome in memory until it is taken (a hostile image's lists are long). */
const KEPT = 4

export function notRestoredLine(item: NotRestored): string {
  return `Not restored: ${item.path}: ${item.reason}`
}

export function renamedLine(item: Renamed): string {
  return `Restored ${item.path} as "${item.to}" (the original name cannot be used here)`
}

export function notRestoredCountLine(n: number): string {
  return `${n} item${n === 1 ? ' was' : 's were'} not restored (listed above); everything else was.`
}

/** The recent restores' full outcomes, by job id, newest last. */
export class RestoreOutcomes {
  private readonly byJob = new Map<string, RestoreOutcome>()

  remember(jobId: string, outcome: RestoreOutcome): void {
    this.byJob.set(jobId, outcome)
    for (const oldest of this.byJob.keys()) {
      if (this.byJob.size <= KEPT) break
      this.byJob.delete(oldest)
    }
  }

  take(jobId: string): RestoreOutcome | undefined {
    const outcome = this.byJob.get(jobId)
    this.byJob.delete(jobId)
    return outcome
  }

  clear(): void {
    this.byJob.clear()
  }
}
