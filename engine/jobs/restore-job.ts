import type { RestoreResult } from '../../adapters/host-adapter'
import { ApiError } from '../api/contract-errors'
import type { Repositories } from '../repository-access/repositories'
import type { SavedHost } from '../state/hosts-store'
import { encodeDisk } from '../repository/export/export'
import type { PointDiskSource } from '../repository/read/point-disk'
import { connectHost, type HostAccessDeps } from '../inventory/host-access'
import type { JobSpec } from './job-runner'

export interface RestoreRequest {
  readonly pointId: string
  readonly repo?: string
  readonly toHost: string
  /** Name of the new VM (default "<name>-restored-<date>"); in place: the VM to overwrite (default the original). */
  readonly as?: string
  readonly start: boolean
  readonly inPlace: boolean
  readonly storageDir?: string
}

export interface RestoreJobDeps extends HostAccessDeps {
  readonly repositories: Repositories
}

/** A full VM restore as a job: the restore point's disks are written over SSH and the VM is defined (and started). */
export function restoreJob(deps: RestoreJobDeps, record: SavedHost, request: RestoreRequest): JobSpec<RestoreResult & { pointId: string }> {
  return {
    kind: 'restore',
    title: request.inPlace
      ? `Restore ${request.as ?? request.pointId} in place on ${record.name}`
      : request.as !== undefined
        ? `Restore as ${request.as} on ${record.name}`
        : `Restore ${request.pointId} to ${record.name}`,
    hostId: record.id,
    steps: [
      { id: 'connect', label: 'Open the restore point and connect to the host' },
      { id: 'write', label: 'Write the disks and define the VM' },
    ],
    run: async (ctx) => {
      const { signal } = ctx
      let end = ctx.step('connect')
      const repo = await deps.repositories.open(request.repo === undefined ? {} : { location: request.repo }, signal)
      try {
        const manifest = await repo.getPoint(request.pointId, signal)
        const adapter = await connectHost(deps, record, signal)
        const opened: PointDiskSource[] = []
        try {
          if (adapter.restore === undefined) throw new ApiError('NOT_SUPPORTED', `${record.name} cannot restore VMs in this version of Lifeboat.`)
          const config = manifest.vm.config
          const hostConfig = typeof config === 'object' && config !== null && !Array.isArray(config) && 'host' in config ? config.host : config
          for (const d of manifest.disks) opened.push(await repo.openDisk(manifest.id, d.name, { signal }))
          const stamp = new Date().toISOString().slice(0, 16).replace(/[-:]/g, '').replace('T', '-')
          const name = request.as ?? (request.inPlace ? manifest.vm.name : `${manifest.vm.name}-restored-${stamp}`)
          end()
          end = ctx.step('write')
          const result = await adapter.restore.restoreVm(
            {
              vmConfig: hostConfig ?? null,
              // opened[i] is manifest.disks[i], opened in order above.
              disks: opened.map((source, i) => {
                const d = manifest.disks[i]
                if (d === undefined) throw new ApiError('INTERNAL', 'A restore point disk was opened that its manifest does not list.')
                return {
                  name: d.name,
                  size: d.size,
                  source,
                  ...(d.meta !== undefined ? { meta: d.meta } : {}),
                  // For hosts that keep disks as image files (Hyper-V): the disk encoded by the repository's export writers.
                  encode: (format: 'vhdx' | 'vhd', s?: AbortSignal) => encodeDisk(source, format, s ?? signal),
                }
              }),
              name,
              inPlace: request.inPlace,
              jobId: ctx.jobId,
              start: request.start,
              ...(request.storageDir !== undefined ? { storageDir: request.storageDir } : {}),
              log: (level, message) => ctx.log(level, message),
              phase: (phase, detail) => ctx.progress({ phase, bytesDone: 0, ...(detail !== undefined ? { detail } : {}) }),
              progress: (bytesDone, bytesTotal, detail) => ctx.progress({ phase: 'restore', bytesDone, bytesTotal, ...(detail !== undefined ? { detail } : {}) }),
            },
            signal,
          )
          for (const l of result.leftBehind) ctx.leftBehind(l)
          end()
          ctx.log('info', `Restored as ${result.name} (${result.vmId})${result.started ? ', started' : ''}: ${result.disks.map((d) => `${d.name} → ${d.path} (${d.format})`).join(', ')}.`)
          return { ...result, pointId: manifest.id }
        } finally {
          for (const d of opened) await d.close().catch(() => undefined)
          await adapter.close().catch(() => undefined)
        }
      } finally {
        await repo.close()
      }
    },
  }
}
