import { readdir, readFile, rm, stat } from 'node:fs/promises'
import { hostname } from 'node:os'
import path from 'node:path'
import { z } from 'zod'
import { JobRecordSchema, type JobRecord } from './job-record'
import { writeFileAtomic } from '../state/atomic-file'
import { pidAlive } from '../../adapters/pid-alive'

const JobFileSchema = z.object({
  owner: z.object({ pid: z.number().int(), host: z.string() }),
  job: JobRecordSchema,
})

/** Job ids name files here: nothing that could leave the folder. */
const isJobId = (id: string): boolean => /^[A-Za-z0-9-]{1,100}$/.test(id)

const unfinished = new Set(['queued', 'running', 'cancelling'])

/**
 * Job records on disk, one file per job, so the history survives restarts and jobs run by the CLI (cron) show
 * up in the desktop app. Each file names the process that runs the job: a job whose process died is shown as
 * failed ("Lifeboat stopped while this job ran") instead of running forever. Damaged files are skipped.
 */
export class JobStore {
  constructor(
    private readonly dir: string,
    private readonly keep = 500,
  ) {}

  async save(job: JobRecord): Promise<void> {
    const file = { owner: { pid: process.pid, host: hostname() }, job }
    await writeFileAtomic(path.join(this.dir, `${job.id}.json`), JSON.stringify(file) + '\n', 0o600)
  }

  async load(id: string): Promise<JobRecord | undefined> {
    if (!isJobId(id)) return undefined
    try {
      const parsed = JobFileSchema.safeParse(JSON.parse(await readFile(path.join(this.dir, `${id}.json`), 'utf8')))
      if (!parsed.success) return undefined
      const { owner, job } = parsed.data
      if (unfinished.has(job.state) && owner.host === hostname() && !pidAlive(owner.pid)) return orphaned(job)
      return job
    } catch {
      return undefined
    }
  }

  /**
   * Asks whichever Lifeboat process runs the job to cancel it (the app, when `lifeboat jobs cancel` is typed in a
   * terminal, or the reverse): a `<id>.cancel` file beside the record, which the owner looks for while it runs.
   * Answers false when the job is unknown, finished, or its process is gone (nothing to ask).
   */
  async requestCancel(id: string): Promise<boolean> {
    const job = await this.load(id)
    if (job === undefined || !unfinished.has(job.state)) return false
    const request = { by: { pid: process.pid, host: hostname() }, at: new Date().toISOString() }
    await writeFileAtomic(path.join(this.dir, `${id}.cancel`), JSON.stringify(request) + '\n', 0o600)
    return true
  }

  /** True when another process asked for this job to be cancelled. */
  async cancelRequested(id: string): Promise<boolean> {
    if (!isJobId(id)) return false
    try {
      return (await stat(path.join(this.dir, `${id}.cancel`))).isFile()
    } catch {
      return false
    }
  }

  /** Removes a cancel request once the job has ended (best effort: a stale request names a finished job only). */
  async clearCancel(id: string): Promise<void> {
    if (!isJobId(id)) return
    await rm(path.join(this.dir, `${id}.cancel`), { force: true }).catch(() => undefined)
  }

  /** Newest first. */
  async list(limit: number): Promise<JobRecord[]> {
    let names: string[]
    try {
      names = (await readdir(this.dir)).filter((n) => n.endsWith('.json') && !n.startsWith('.'))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
    const jobs = (await Promise.all(names.map((n) => this.load(n.slice(0, -5))))).filter((j): j is JobRecord => j !== undefined)
    jobs.sort((a, b) => b.createdAt.localeCompare(a.createdAt))
    return jobs.slice(0, limit)
  }

  /** Removes finished jobs beyond the newest `keep`. */
  async prune(): Promise<void> {
    const all = await this.list(Number.MAX_SAFE_INTEGER)
    const finished = all.filter((j) => !unfinished.has(j.state))
    await Promise.all(
      finished.slice(this.keep).flatMap((j) => [rm(path.join(this.dir, `${j.id}.json`), { force: true }), rm(path.join(this.dir, `${j.id}.cancel`), { force: true })]),
    )
  }
}

function orphaned(job: JobRecord): JobRecord {
  return {
    ...job,
    state: 'failed',
    error: {
      code: 'INTERNAL',
      message: 'Lifeboat stopped while this job was running (the process ended). Check the host for anything it may have left behind.',
      params: {},
    },
  }
}
