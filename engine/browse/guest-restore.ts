import { ApiError } from '../api/contract-errors'
import type { DiskSourceRef } from '../api/contract-files'
import { connectHost, findHost, findVm, type HostAccessDeps } from '../inventory/host-access'
import type { JobRunner } from '../jobs/job-runner'
import type { BrowseService } from './browse-service'

export interface GuestRestoreRequest {
  readonly source: DiskSourceRef
  readonly volume?: string
  readonly path: string
  readonly host: string
  readonly vm: string
  readonly guestPath: string
  readonly overwrite: boolean
}

/**
 * Puts one file from a browsed disk (a restore point, a live snapshot) back into a running VM, through the adapter's
 * guest channel: no share, no agent of Lifeboat's in the guest. A job, with progress in bytes.
 */
export async function restoreToGuest(deps: HostAccessDeps & { readonly jobs: JobRunner; readonly browse: BrowseService }, request: GuestRestoreRequest): Promise<{ jobId: string }> {
  const record = await findHost(deps, request.host)
  const job = deps.jobs.start({
    kind: 'files.restoreToGuest',
    title: `Restore ${request.path} into ${request.vm} (${request.guestPath})`,
    hostId: record.id,
    steps: [
      { id: 'open', label: 'Open the disk and the host' },
      { id: 'copy', label: 'Copy the file into the guest' },
    ],
    run: async (ctx) => {
      let end = ctx.step('open')
      const entry = await deps.browse.stat(request.source, request.volume, request.path, ctx.signal)
      if (entry.type !== 'file') throw new ApiError('INVALID_INPUT', `${request.path} is a ${entry.type}; only single files can be put into a running guest.`, { field: 'path' })
      const adapter = await connectHost(deps, record, ctx.signal)
      try {
        if (adapter.guestFiles === undefined) throw new ApiError('NOT_SUPPORTED', `${record.name} cannot put files into running guests in this version of Lifeboat.`)
        const vm = await findVm(adapter, record.name, request.vm, ctx.signal)
        end()
        end = ctx.step('copy')
        let done = 0
        const browse = deps.browse
        const data = (async function* () {
          for await (const chunk of browse.readFile(request.source, request.volume, request.path, ctx.signal)) {
            done += chunk.length
            ctx.progress({ phase: 'copying', bytesDone: done, bytesTotal: entry.size, detail: request.guestPath })
            yield chunk
          }
        })()
        await adapter.guestFiles.copyIn(vm.id, { guestPath: request.guestPath, size: entry.size, data, overwrite: request.overwrite }, ctx.signal)
        end()
        ctx.log('info', `${request.path} (${entry.size} bytes) is now ${request.guestPath} in ${vm.name}.`)
        return { bytes: entry.size, guestPath: request.guestPath }
      } finally {
        await adapter.close().catch(() => undefined)
      }
    },
  })
  return { jobId: job.id }
}
