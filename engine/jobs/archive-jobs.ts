import { createReadStream, createWriteStream } from 'node:fs'
import { rename, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { DiskRestoreResult } from '../../adapters/host-adapter'
import { ApiError } from '../api/contract-errors'
import type { Repositories } from '../repository-access/repositories'
import type { SavedHost } from '../state/hosts-store'
import { connectHost, findVm, type HostAccessDeps } from '../inventory/host-access'
import type { JobSpec } from './job-runner'

export interface ArchiveJobDeps extends HostAccessDeps {
  readonly repositories: Repositories
}

/** A VM's archive (XVA) into a local file: written beside the target and renamed at the end, so a failure leaves no half file. */
export function archiveExportJob(deps: ArchiveJobDeps, record: SavedHost, request: { vm: string; file: string; overwrite: boolean }): JobSpec<{ file: string; bytes: number; vm: string }> {
  const file = path.resolve(request.file)
  return {
    kind: 'archive-export',
    title: `Export ${request.vm} from ${record.name} to ${path.basename(file)}`,
    hostId: record.id,
    steps: [
      { id: 'connect', label: 'Connect to the host' },
      { id: 'export', label: 'Write the archive' },
    ],
    run: async (ctx) => {
      if (!request.overwrite && (await stat(file).catch(() => undefined)) !== undefined) throw new ApiError('INVALID_INPUT', `${file} exists; choose another file or allow overwriting.`, { field: 'file' })
      let end = ctx.step('connect')
      const adapter = await connectHost(deps, record, ctx.signal)
      const partial = `${file}.lifeboat-partial`
      try {
        if (adapter.archive === undefined) throw new ApiError('NOT_SUPPORTED', `${record.name} has no VM archive format Lifeboat can export.`)
        const vm = await findVm(adapter, record.name, request.vm, ctx.signal)
        end()
        end = ctx.step('export')
        const { bytes, leftBehind } = await adapter.archive.export(
          vm.id,
          async (data) => {
            await pipeline(data, createWriteStream(partial, { mode: 0o600 }), { signal: ctx.signal })
          },
          { progress: (done) => ctx.progress({ phase: 'export', bytesDone: done, detail: vm.name }) },
          ctx.signal,
        )
        await rename(partial, file)
        end()
        ctx.log('info', `${vm.name} exported to ${file} (${bytes} bytes, ${adapter.archive.format.toUpperCase()}).`)
        // The archive is whole; what the host could not clean up afterwards (its temporary snapshot) is still said.
        for (const l of leftBehind ?? []) ctx.leftBehind(l)
        return { file, bytes, vm: vm.name }
      } finally {
        await rm(partial, { force: true }).catch(() => undefined)
        await adapter.close().catch(() => undefined)
      }
    },
  }
}

/** A new VM from an archive file on this machine. */
export function archiveImportJob(deps: ArchiveJobDeps, record: SavedHost, request: { file: string; storage?: string; start: boolean }): JobSpec<{ vmId: string; name: string; started: boolean }> {
  const file = path.resolve(request.file)
  return {
    kind: 'archive-import',
    title: `Import ${path.basename(file)} to ${record.name}`,
    hostId: record.id,
    steps: [
      { id: 'connect', label: 'Connect to the host' },
      { id: 'import', label: 'Send the archive' },
    ],
    run: async (ctx) => {
      const info = await stat(file).catch(() => undefined)
      if (info?.isFile() !== true) throw new ApiError('NOT_FOUND', `${file} is not a file.`, { field: 'file' })
      let end = ctx.step('connect')
      const adapter = await connectHost(deps, record, ctx.signal)
      try {
        if (adapter.archive === undefined) throw new ApiError('NOT_SUPPORTED', `${record.name} cannot import VM archives.`)
        end()
        end = ctx.step('import')
        const result = await adapter.archive.import(
          { size: info.size, open: () => createReadStream(file, { highWaterMark: 4 * 1024 * 1024 }) as AsyncIterable<Uint8Array> },
          { ...(request.storage !== undefined ? { storage: request.storage } : {}), start: request.start, progress: (done, total) => ctx.progress({ phase: 'import', bytesDone: done, ...(total !== undefined ? { bytesTotal: total } : {}) }) },
          ctx.signal,
        )
        end()
        ctx.log('info', `Imported as ${result.name} (${result.vmId})${result.started ? ', started' : ''}.`)
        for (const l of result.leftBehind ?? []) ctx.leftBehind(l)
        return { vmId: result.vmId, name: result.name, started: result.started }
      } finally {
        await adapter.close().catch(() => undefined)
      }
    },
  }
}

/** One disk of a restore point written as a new disk of an existing VM. */
export function restoreDiskJob(deps: ArchiveJobDeps, record: SavedHost, request: { point: string; disk: string; repo?: string; vm: string; as?: string; storage?: string }): JobSpec<DiskRestoreResult & { pointId: string }> {
  return {
    kind: 'restore-disk',
    title: `Restore disk ${request.disk} of ${request.point} to ${request.vm} on ${record.name}`,
    hostId: record.id,
    steps: [
      { id: 'connect', label: 'Open the restore point and connect to the host' },
      { id: 'write', label: 'Write and attach the disk' },
    ],
    run: async (ctx) => {
      let end = ctx.step('connect')
      const repo = await deps.repositories.open(request.repo === undefined ? {} : { location: request.repo }, ctx.signal)
      try {
        const manifest = await repo.getPoint(request.point, ctx.signal)
        const diskRecord = manifest.disks.find((d) => d.name === request.disk)
        if (diskRecord === undefined) throw new ApiError('NOT_FOUND', `Restore point ${manifest.id} has no disk "${request.disk}" (it has ${manifest.disks.map((d) => d.name).join(', ')}).`)
        const source = await repo.openDisk(manifest.id, diskRecord.name, { signal: ctx.signal })
        const adapter = await connectHost(deps, record, ctx.signal)
        try {
          const restore = adapter.restore
          if (restore?.restoreDisk === undefined) throw new ApiError('NOT_SUPPORTED', `${record.name} cannot attach a restored disk to a VM in this version of Lifeboat.`)
          end()
          end = ctx.step('write')
          const result = await restore.restoreDisk(
            {
              vm: request.vm,
              disk: { name: diskRecord.name, size: diskRecord.size, source, ...(diskRecord.meta !== undefined ? { meta: diskRecord.meta } : {}) },
              ...(request.as !== undefined ? { name: request.as } : {}),
              ...(request.storage !== undefined ? { storageDir: request.storage } : {}),
              log: (level, message) => ctx.log(level, message),
              phase: (phase, detail) => ctx.progress({ phase, bytesDone: 0, ...(detail !== undefined ? { detail } : {}) }),
              progress: (done, total, detail) => ctx.progress({ phase: 'restore', bytesDone: done, bytesTotal: total, ...(detail !== undefined ? { detail } : {}) }),
            },
            ctx.signal,
          )
          for (const l of result.leftBehind) ctx.leftBehind(l)
          end()
          ctx.log('info', `Attached as device ${result.device} of ${request.vm}${result.plugged ? ' (hot-plugged)' : ' (appears at the next start)'}: ${result.disk.path}.`)
          return { ...result, pointId: manifest.id }
        } finally {
          await source.close().catch(() => undefined)
          await adapter.close().catch(() => undefined)
        }
      } finally {
        await repo.close()
      }
    },
  }
}
