import type { HostDto, InstantRunDto, JobDto, PointSummaryDto } from '../../../engine/api/contract'

/**
 * Why "Run from backup" cannot start from this point: the engine serves disks to KVM/libvirt only, so a XenServer or
 * Hyper-V point gets the full restore instead; a point made from a disk image has no VM definition to run; and a KVM
 * point needs a Linux host saved in Lifeboat.
 */
export type RunBlocker = 'xenserver' | 'hyperv' | 'notVm' | 'noHost'

export interface RunHostChoice {
  readonly host: HostDto
  /** False for XenServer and Hyper-V hosts: shown, with why, rather than hidden. */
  readonly canRun: boolean
}

export interface RunPlan {
  readonly choices: readonly RunHostChoice[]
  readonly preferred?: HostDto
  readonly blocker?: RunBlocker
}

/** The hosts a point could run on (KVM/libvirt first, the point's own host preferred), or why none. */
export function runPlan(hosts: readonly HostDto[], point: Pick<PointSummaryDto, 'sourceHost'>): RunPlan {
  const kind = point.sourceHost.kind
  if (kind === 'xenserver' || kind === 'hyperv') return { choices: [], blocker: kind }
  if (kind !== undefined && kind !== 'linux') return { choices: [], blocker: 'notVm' }
  const choices = hosts.map((host): RunHostChoice => ({ host, canRun: host.kind === 'linux' })).sort((a, b) => Number(b.canRun) - Number(a.canRun))
  const capable = choices.filter((c) => c.canRun).map((c) => c.host)
  const preferred = capable.find((h) => h.id === point.sourceHost.id) ?? capable.find((h) => point.sourceHost.id === undefined && h.name === point.sourceHost.name) ?? capable[0]
  return preferred === undefined ? { choices, blocker: 'noHost' } : { choices, preferred }
}

const pad = (n: number) => String(n).padStart(2, '0')
const MAX_NAME = 200

/**
 * "<vm>-from-backup-YYYYMMDD-HHMM" in local time, with "-2", "-3"… when that name is taken on the host: never the
 * original's name, so running it cannot be mistaken for (or clash with) the VM it came from.
 */
export function defaultRunName(vmName: string, at: Date, taken: ReadonlySet<string>): string {
  const stamp = `${at.getFullYear()}${pad(at.getMonth() + 1)}${pad(at.getDate())}-${pad(at.getHours())}${pad(at.getMinutes())}`
  // eslint-disable-next-line no-control-regex -- control characters are exactly what a VM name must not carry
  const safe = vmName.replace(/[/\u0000-\u001f\u007f]/g, '_')
  const base = `${safe.slice(0, MAX_NAME - 30)}-from-backup-${stamp}`
  if (!taken.has(base)) return base
  for (let n = 2; ; n++) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`
}

export type RunNameProblem = 'missing' | 'badChars' | 'taken' | 'tooLong'

/** What is wrong with a name the admin typed for the new VM (the contract refuses "/" and line breaks). */
export function runNameProblem(name: string, taken: ReadonlySet<string>): RunNameProblem | undefined {
  const n = name.trim()
  if (n === '') return 'missing'
  if (n.length > MAX_NAME) return 'tooLong'
  // eslint-disable-next-line no-control-regex -- control characters are exactly what a VM name must not carry
  if (/[/\u0000-\u001f\u007f]/.test(n)) return 'badChars'
  if (taken.has(n)) return 'taken'
  return undefined
}

/** One VM that runs from a backup, as the banner shows it. */
export interface BannerRun {
  readonly host: HostDto
  readonly run: InstantRunDto
  /** The restore point's date, when this app knows the point. */
  readonly pointDate?: string
}

/** Every run still needing Lifeboat (not made permanent), hosts in the order the admin saved them, then by VM name. */
export function bannerRuns(perHost: readonly { readonly host: HostDto; readonly runs: readonly InstantRunDto[] | undefined }[], points: readonly PointSummaryDto[]): BannerRun[] {
  const dates = new Map(points.map((p) => [p.id, p.finishedAt]))
  return perHost.flatMap(({ host, runs }) =>
    (runs ?? [])
      .filter((run) => !run.permanent)
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((run) => {
        const pointDate = dates.get(run.pointId)
        return pointDate === undefined ? { host, run } : { host, run, pointDate }
      }),
  )
}

const activeStates = new Set<JobDto['state']>(['queued', 'running', 'cancelling'])

/** The request a job was started with, as jobs.get returns it (`retry`), reduced to what identifies a run. */
export interface PermanentJobRequest {
  readonly jobId: string
  readonly host: string
  readonly name: string
}

/** Reads `{ host, name }` out of a runs.makePermanent job's stored request; anything else is not one. */
export function permanentRequestOf(jobId: string, retry: { readonly channel: string; readonly input: unknown } | undefined): PermanentJobRequest | undefined {
  if (retry?.channel !== 'runs.makePermanent') return undefined
  const input = retry.input
  if (typeof input !== 'object' || input === null) return undefined
  const host = 'host' in input ? input.host : undefined
  const name = 'name' in input ? input.name : undefined
  return typeof host === 'string' && typeof name === 'string' ? { jobId, host, name } : undefined
}

/**
 * The make-permanent job of one run: the newest runs.makePermanent job for that host and VM, whether started here
 * (its id known at once) or before a reload (its request read back from the engine).
 */
export function permanentJobOf(jobs: readonly JobDto[], requests: readonly PermanentJobRequest[], hostId: string, name: string): JobDto | undefined {
  const ids = new Set(requests.filter((r) => r.host === hostId && r.name === name).map((r) => r.jobId))
  return jobs.filter((j) => j.kind === 'runs.makePermanent' && ids.has(j.id)).sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0]
}

export function isActiveJob(job: JobDto | undefined): boolean {
  return job !== undefined && activeStates.has(job.state)
}

/** The serving job of a run (points.run started it under the run's id), when this engine still has it. */
export function servingJobOf(jobs: readonly JobDto[], run: Pick<InstantRunDto, 'runId'>): JobDto | undefined {
  return jobs.find((j) => j.id === run.runId && j.kind === 'points.run')
}

/** A points.run job that just started serving (phase `running`) or ended: the runs lists are out of date. */
export function changesRuns(before: JobDto | undefined, after: JobDto): boolean {
  if (after.kind !== 'points.run' && after.kind !== 'runs.makePermanent') return false
  if (before?.state !== after.state) return true
  return after.kind === 'points.run' && before.progress.phase !== after.progress.phase
}
