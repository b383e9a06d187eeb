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

/** The tail of a reconnecting job's detail after the first try ("web: reconnecting to kvm1 (try 3)"), for its VM name only. */
const TRY_ONLY_RE = /^ \(try \d{1,6}\)$/

/**
 * Whether a points.run job is about this VM on this host: its progress's `vm` when it has one; a job an older Lifeboat
 * recorded names the VM in its detail only (its name alone, or its reconnecting line), read as a fallback.
 */
function jobNames(job: JobDto, vm: string, hostName: string): boolean {
  if (job.progress.vm !== undefined) return job.progress.vm === vm
  const detail = job.progress.detail
  if (detail === undefined) return false
  if (detail === vm) return true
  const head = `${vm}: reconnecting to ${hostName}`
  if (!detail.startsWith(head)) return false
  const rest = detail.slice(head.length)
  return rest === '' || TRY_ONLY_RE.test(rest)
}

/**
 * The serving job of a run when this engine has it: the job that started it (points.run ran under the run's id), or
 * a job that serves it again after its Lifeboat died (`--resume`, another id), known by its host and its detail, which
 * names the VM while it serves or reconnects. An active job is preferred over an ended one.
 */
export function servingJobOf(jobs: readonly JobDto[], run: Pick<InstantRunDto, 'runId' | 'name'>, host?: Pick<HostDto, 'id' | 'name'>): JobDto | undefined {
  const mine = jobs.filter((j) => j.kind === 'points.run' && (j.id === run.runId || (host !== undefined && j.hostId === host.id && isActiveJob(j) && jobNames(j, run.name, host.name))))
  return mine.find(isActiveJob) ?? mine[0]
}

/** What the banner says of a run's link to Lifeboat, from its serving job: served, or reconnecting (which try). */
export type RunConnection = { readonly state: 'served' } | { readonly state: 'reconnecting'; readonly attempt: number }

/**
 * The state of a serving job's SSH connection, from its phase: `reconnecting` after the connection carrying the
 * disks' sockets was lost (the VM pauses at its next read of the backup and waits), `running` once it serves (again).
 * The try is the progress's `attempt` field; a job an older Lifeboat recorded has none (it named the try in its
 * detail only, words this does not read) and counts as the first. Undefined when no active job serves the run, or it
 * is still starting.
 */
export function runConnection(job: JobDto | undefined): RunConnection | undefined {
  if (job?.kind !== 'points.run' || !isActiveJob(job)) return undefined
  if (job.progress.phase === 'reconnecting') {
    const n = job.progress.attempt ?? 1
    return { state: 'reconnecting', attempt: Number.isSafeInteger(n) && n >= 1 ? n : 1 }
  }
  return job.progress.phase === 'running' ? { state: 'served' } : undefined
}

/** "Reconnected" is said once, when a run that was reconnecting is served again; not when a run starts serving. */
export function reconnectedNow(before: RunConnection['state'] | undefined, after: RunConnection['state'] | undefined): boolean {
  return before === 'reconnecting' && after === 'served'
}

/** A points.run job that just started serving (phase `running`) or ended: the runs lists are out of date. */
export function changesRuns(before: JobDto | undefined, after: JobDto): boolean {
  if (after.kind !== 'points.run' && after.kind !== 'runs.makePermanent') return false
  if (before?.state !== after.state) return true
  return after.kind === 'points.run' && before.progress.phase !== after.progress.phase
}

/** A serving job that reconnects for a run the banner has no row for (its host could not be asked since a reload). */
export interface UnlistedReconnect {
  readonly job: JobDto
  readonly host: HostDto
  /** Undefined when the job names none (an older Lifeboat's record whose detail is not in the form it wrote). */
  readonly vm?: string
  readonly attempt: number
}

/** The VM an older Lifeboat's reconnecting job named in its detail ("web: reconnecting to kvm1 (try 3)"), if it did. */
function vmOfOldDetail(detail: string, hostName: string): string | undefined {
  const tail = `: reconnecting to ${hostName}`
  const at = detail.lastIndexOf(tail)
  const rest = at > 0 ? detail.slice(at + tail.length) : undefined
  return rest !== undefined && (rest === '' || TRY_ONLY_RE.test(rest)) ? detail.slice(0, at) : undefined
}

/**
 * Serving jobs that reconnect to a host whose runs list the app could not read (the host was out of reach when the app
 * loaded): the banner still says that a VM waits and lets it be stopped. The VM's name is the job's progress `vm`
 * (from an older Lifeboat's record: its detail, "web: reconnecting to kvm1 (try 3)", cut at the host name).
 */
export function unlistedReconnects(jobs: readonly JobDto[], hosts: readonly HostDto[], rows: readonly BannerRun[]): UnlistedReconnect[] {
  return jobs.flatMap((job) => {
    const c = runConnection(job)
    const host = hosts.find((h) => h.id === job.hostId)
    if (c?.state !== 'reconnecting' || host === undefined) return []
    if (rows.some((r) => r.host.id === host.id && servingJobOf([job], r.run, r.host) !== undefined)) return []
    const vm = job.progress.vm ?? vmOfOldDetail(job.progress.detail ?? '', host.name)
    return [vm === undefined ? { job, host, attempt: c.attempt } : { job, host, vm, attempt: c.attempt }]
  })
}
