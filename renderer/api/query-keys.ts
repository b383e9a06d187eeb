import type { DiskSourceRef, Schedule } from '../../engine/api/contract'

const points = ['points'] as const

/**
 * Every react-query key the renderer uses is made here, so a query and the invalidations that must reach it
 * cannot drift apart. react-query matches invalidations by prefix: a key without its last parts (`points`)
 * reaches every longer key that starts with it (`pointsOf(vm)`). Lint forbids array literals as `queryKey`.
 */
export const queryKeys = {
  hosts: ['hosts'],
  inventory: ['inventory'],
  jobs: ['jobs'],
  job: (jobId: string) => ['job', jobId] as const,
  appInfo: ['app-info'],
  /** The prefix of every repository's facts (the default one's is this key itself). */
  repoInfo: ['repo-info'],
  /** One repository's facts, by the location asked for (undefined: the default repository). */
  repoInfoAt: (location?: string) => (location === undefined ? (['repo-info'] as const) : (['repo-info', location] as const)),
  plans: ['plans'],
  /** Alert channels, chosen events and failed deliveries. */
  notify: ['notify'],
  /** The prefix of every restore-point list, whichever VM it is for. */
  points,
  /** The restore points of one VM, or of every VM when no VM is given. */
  pointsOf: (vmId?: string) => [...points, vmId ?? '*'] as const,
  /** How many proven copies each VM's newest point has (under `points`: a finished job refreshes it too). */
  copies: [...points, 'copies'] as const,
  /** A VM's snapshots as its host reports them. */
  snapshots: (hostId: string, vmId: string) => ['snapshots', hostId, vmId] as const,
  /** Which backup modes a VM supports on its host, and why not. */
  backupModes: (hostId: string, vmId: string) => ['modes', hostId, vmId] as const,
  /** The next run times of a schedule the wizard is editing. */
  schedulePreview: (schedule: Schedule | undefined) => ['preview', schedule] as const,
  /** Partitions, volumes and filesystems found on a disk source. */
  diskTree: (source: DiskSourceRef | undefined) => ['disk-tree', source] as const,
  /** The console screenshot of a point's health check (one per check job, so a new check is a new key). */
  checkScreenshot: (pointId: string, jobId: string) => ['check-screenshot', pointId, jobId] as const,
  /** The prefix of every host's list of VMs running from a backup. */
  runs: ['runs'],
  /** The VMs running (or that ran) from a restore point on one host. */
  runsOn: (hostId: string) => ['runs', hostId] as const,
  /** One folder's entries on one volume of a disk source. */
  directory: (source: DiskSourceRef | undefined, volume: string | undefined, path: string) => ['dir', source, volume, path] as const,
} as const

/** What a finished job may have changed: restore points made or removed, the repository's size, plan status, its own log. */
export function keysAfterJob(jobId: string) {
  return [queryKeys.points, queryKeys.repoInfo, queryKeys.plans, queryKeys.job(jobId)] as const
}
