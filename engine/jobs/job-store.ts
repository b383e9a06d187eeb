import { readdir, readFile, rm } from 'node:fs/promises'
import { hostname } from 'node:os'
import path from 'node:path'
import { z } from 'zod'
import { JobDetailDtoSchema, type JobDetailDto } from '../api/contract-jobs'
import { writeFileAtomic } from '../state/atomic-file'

const JobFileSchema = z.object({
  owner: z.object({ pid: z.number().int(), host: z.string() }),
  job: JobDetailDtoSchema,
})

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

  async save(job: JobDetailDto): Promise<void> {
    const file = { owner: { pid: process.pid, host: hostname() }, job }
    await writeFileAtomic(path.join(this.dir, `${job.id}.json`), JSON.stringify(file) + '\n', 0o600)
  }

  async load(id: string): Promise<JobDetailDto | undefined> {
    if (!/^[A-Za-z0-9-]{1,100}$/.test(id)) return undefined
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

  /** Newest first. */
  async list(limit: number): Promise<JobDetailDto[]> {
    let names: string[]
    try {
      names = (await readdir(this.dir)).filter((n) => n.endsWith('.json') && !n.startsWith('.'))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
    const jobs = (await Promise.all(names.map((n) => this.load(n.slice(0, -5))))).filter((j): j is JobDetailDto => j !== undefined)
    jobs.sort((a, b) => b.createdAt.localeCompare(a.createdAt))
    return jobs.slice(0, limit)
  }

  /** Removes finished jobs beyond the newest `keep`. */
  async prune(): Promise<void> {
    const all = await this.list(Number.MAX_SAFE_INTEGER)
    const finished = all.filter((j) => !unfinished.has(j.state))
    await Promise.all(finished.slice(this.keep).map((j) => rm(path.join(this.dir, `${j.id}.json`), { force: true })))
  }
}

function orphaned(job: JobDetailDto): JobDetailDto {
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

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
