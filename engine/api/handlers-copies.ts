import path from 'node:path'
import { CopyRecords } from '../copies/copy-records'
import { CopyService } from '../copies/copy-service'
import { retryOf } from '../jobs/retry'
import type { JobRunner } from '../jobs/job-runner'
import type { Repositories, RepositoryRef } from '../repository-access/repositories'
import type { AppInfo } from './contract'
import type { Handler } from './handler-types'

export interface CopyHandlerDeps {
  readonly info: AppInfo
  readonly repositories: Repositories
  readonly jobs: JobRunner
}

/** The copy service of an engine: its record of copies lives in the data folder. */
export function copyServiceFor(deps: { info: AppInfo; repositories: Repositories }): CopyService {
  return new CopyService({ repositories: deps.repositories, records: new CopyRecords(path.join(deps.info.home, 'copies.json')) })
}

export function copyHandlers(deps: CopyHandlerDeps, service: CopyService = copyServiceFor(deps)) {
  const ref = (location: string | undefined): RepositoryRef => {
    const r = location !== undefined ? { location } : {}
    deps.repositories.locate(r)
    return r
  }

  const copy: Handler<'points.copy'> = (input) => {
    const from = ref(input.repo)
    const to = { location: input.to }
    deps.repositories.locate(to)
    const { s3Credentials, ...safe } = input
    const job = deps.jobs.start({
      kind: 'points.copy',
      // The secret key never goes into the job record; a retry uses what the first run saved.
      retry: retryOf('points.copy', safe),
      title: `Copy restore point ${input.pointId} to ${deps.repositories.resolve(to)}`,
      run: async (ctx) => {
        const report = await service.copy({ from, pointId: input.pointId, to, s3Credentials, signal: ctx.signal, progress: ctx.progress })
        ctx.log(
          'info',
          report.alreadyThere
            ? `Restore point ${report.pointId} was already in ${report.target}.`
            : `Restore point ${report.pointId} copied to ${report.target} and verified: ${report.chunksSent} chunks sent, ${report.chunksShared} already there, ${report.chunksResumed} taken over from an interrupted copy.`,
        )
        return report
      },
    })
    return Promise.resolve({ jobId: job.id })
  }

  const summary: Handler<'copies.summary'> = (input, ctx) => service.summary(ref(input.repo), ctx.signal)

  return { 'points.copy': copy, 'copies.summary': summary }
}
