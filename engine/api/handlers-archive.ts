import { archiveExportJob, archiveImportJob, restoreDiskJob } from '../jobs/archive-jobs'
import { findHost } from '../inventory/host-access'
import type { Handler } from './handler-types'
import type { HandlerDeps } from './handler-deps'

export function archiveHandlers(deps: HandlerDeps) {
  const exportArchive: Handler<'archive.export'> = async (input) => {
    const record = await findHost(deps, input.host)
    return { jobId: deps.jobs.start(archiveExportJob(deps, record, input)).id }
  }
  const importArchive: Handler<'archive.import'> = async (input) => {
    const record = await findHost(deps, input.host)
    return { jobId: deps.jobs.start(archiveImportJob(deps, record, { file: input.file, start: input.start, ...(input.storage !== undefined ? { storage: input.storage } : {}) })).id }
  }
  const disk: Handler<'restore.disk'> = async (input) => {
    const record = await findHost(deps, input.toHost)
    const job = deps.jobs.start(
      restoreDiskJob(deps, record, {
        point: input.point,
        disk: input.disk,
        vm: input.vm,
        ...(input.repo !== undefined ? { repo: input.repo } : {}),
        ...(input.as !== undefined ? { as: input.as } : {}),
        ...(input.storage !== undefined ? { storage: input.storage } : {}),
      }),
    )
    return { jobId: job.id }
  }
  return { 'archive.export': exportArchive, 'archive.import': importArchive, 'restore.disk': disk } as const
}
