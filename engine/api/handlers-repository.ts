import { statfs } from 'node:fs/promises'
import path from 'node:path'
import { openImageFile } from '../disks/open-image'
import type { JobRunner } from '../jobs/job-runner'
import type { Repositories, RepositoryRef } from '../repository-access/repositories'
import type { Repository, VerifyReport } from '../repository'
import { summarize } from '../repository/types'
import { ApiError } from './contract-errors'
import type { RepositoryInfoDto } from './contract-repository'
import type { AppInfo } from './contract'
import type { NotifyService } from '../notify/notify-service'
import type { PointCheckDto } from './contract-checks'
import { retryOf } from '../jobs/retry'
import { copyServiceFor } from './handlers-copies'
import type { Handler } from './handler-types'
import type { PointChecks } from '../state/point-checks'

export interface RepositoryHandlerDeps {
  readonly info: AppInfo
  /** Alerts: damage found by verify is sent as `verify-damage`. */
  readonly notify?: NotifyService | undefined
  readonly repositories: Repositories
  readonly jobs: JobRunner
  readonly pointChecks: PointChecks
}

async function describe(repo: Repository, signal?: AbortSignal): Promise<RepositoryInfoDto> {
  const info = repo.info()
  const points = await repo.listPoints(signal)
  return {
    location: info.location,
    id: info.id,
    formatVersion: info.formatVersion,
    createdAt: info.createdAt,
    chunkSize: info.chunkSize,
    compression: info.compression,
    encrypted: info.encrypted,
    ...(info.objectLock !== undefined ? { objectLock: info.objectLock } : {}),
    points: points.length,
    logicalBytes: points.reduce((sum, p) => sum + p.disks.reduce((s, d) => s + d.size, 0), 0),
    storedBytes: points.reduce((sum, p) => sum + p.stats.bytesStored, 0),
    ...(await freeSpace(info.location)),
  }
}

/** Free bytes on the filesystem of a local repository (nothing for remote locations). */
async function freeSpace(location: string): Promise<{ freeBytes?: number }> {
  if (!path.isAbsolute(location)) return {}
  try {
    const fs = await statfs(location)
    return { freeBytes: fs.bavail * fs.bsize }
  } catch {
    return {}
  }
}

function withCheck<P extends { id: string }>(point: P, checks: ReadonlyMap<string, PointCheckDto>): P & { lastCheck?: PointCheckDto } {
  const lastCheck = checks.get(point.id)
  return lastCheck === undefined ? point : { ...point, lastCheck }
}

export function repositoryHandlers(deps: RepositoryHandlerDeps) {
  /** A location string (folder, file://, sftp://, s3://), parsed up front so a bad one fails the request, not a job. */
  const ref = (input: { repo?: string | undefined }): RepositoryRef => {
    const r = input.repo !== undefined ? { location: input.repo } : {}
    deps.repositories.locate(r)
    return r
  }

  const withRepo = async <T>(input: { repo?: string | undefined }, signal: AbortSignal | undefined, fn: (repo: Repository) => Promise<T>): Promise<T> => {
    const repo = await deps.repositories.open(ref(input), signal)
    try {
      return await fn(repo)
    } finally {
      await repo.close()
    }
  }

  const init: Handler<'repo.init'> = async (input, ctx) => {
    const repo = await deps.repositories.init(ref(input), { passphrase: input.passphrase, s3Credentials: input.s3Credentials, signal: ctx.signal })
    try {
      return await describe(repo, ctx.signal)
    } finally {
      await repo.close()
    }
  }

  const setObjectLock: Handler<'repo.setObjectLock'> = async (input, ctx) => {
    await withRepo(input, ctx.signal, (repo) => repo.setObjectLock(input.lock, ctx.signal))
    return await withRepo(input, ctx.signal, (repo) => describe(repo, ctx.signal))
  }

  const info: Handler<'repo.info'> = (input, ctx) => withRepo(input, ctx.signal, (repo) => describe(repo, ctx.signal))

  const check: Handler<'repo.check'> = (input, ctx) =>
    withRepo(input, ctx.signal, async (repo) => {
      const r = await repo.check(ctx.signal)
      return { ok: r.ok, points: r.points, chunks: r.chunks, unreferencedChunks: r.unreferencedChunks, unreferencedBytes: r.unreferencedBytes, problems: [...r.problems] }
    })

  const verify: Handler<'repo.verify'> = (input) => {
    const repoRef = ref(input)
    if (input.pointId !== undefined && input.repairFrom !== undefined) throw new ApiError('INVALID_INPUT', 'A repair checks the whole repository: give either a restore point to verify or a copy to repair from, not both.', { field: 'pointId' })
    // Awaited (it never throws): `lifeboat repo verify` from cron must not exit before the alert went out.
    const alertDamage = async (found: VerifyReport): Promise<void> => {
      await deps.notify?.event({ kind: 'verify-damage', repository: deps.repositories.resolve(repoRef), damagedChunks: found.damagedChunks.length, points: found.damagedPoints.map((p) => p.pointId) })
    }
    const job = deps.jobs.start({
      kind: 'repo.verify',
      retry: retryOf('repo.verify', input),
      title:
        input.repairFrom !== undefined
          ? `Verify and repair the repository ${deps.repositories.resolve(repoRef)}`
          : input.pointId !== undefined
            ? `Verify restore point ${input.pointId} in ${deps.repositories.resolve(repoRef)}`
            : `Verify the repository ${deps.repositories.resolve(repoRef)}`,
      run: async (ctx) => {
        if (input.repairFrom !== undefined) {
          const report = await copyServiceFor(deps).repair(repoRef, { location: input.repairFrom }, ctx.signal, ctx.progress)
          if (!report.found.ok) await alertDamage(report.found)
          for (const id of report.repairedManifests) ctx.log('info', `Restore point ${id}: its damaged manifest was replaced by the copy's.`)
          if (report.repairedChunks.length > 0) ctx.log('info', `${report.repairedChunks.length} damaged or missing chunk(s) re-fetched from ${deps.repositories.resolve({ location: input.repairFrom })} and proven.`)
          for (const p of report.unrepaired) ctx.log('error', `Restore point ${p.pointId} could not be repaired from the copy: ${p.disks.map((d) => `${d.disk} (${d.chunks.length} chunks)`).join(', ') || p.manifestProblem}`)
          ctx.log(report.ok ? 'info' : 'error', report.found.ok ? 'Nothing was damaged.' : report.ok ? 'Every damaged restore point was repaired.' : `${report.unrepaired.length} restore point(s) remain damaged.`)
          return report
        }
        const repo = await deps.repositories.open(repoRef, ctx.signal)
        try {
          const report = await repo.verify({ signal: ctx.signal, progress: ctx.progress, ...(input.pointId !== undefined ? { pointIds: [input.pointId] } : {}) })
          if (!report.ok) await alertDamage(report)
          for (const p of report.damagedPoints) ctx.log('error', `Restore point ${p.pointId} is damaged: ${p.disks.map((d) => `${d.disk} (${d.chunks.length} chunks)`).join(', ') || p.manifestProblem}`)
          ctx.log(report.ok ? 'info' : 'error', `${report.chunksChecked} chunks of ${report.pointsChecked} restore points checked: ${report.ok ? 'all intact' : `${report.damagedPoints.length} restore points damaged`}.`)
          return report
        } finally {
          await repo.close()
        }
      },
    })
    return Promise.resolve({ jobId: job.id })
  }

  const prune: Handler<'repo.prune'> = (input, ctx) =>
    withRepo(input, ctx.signal, async (repo) => {
      const r = await repo.prune({ policy: input.policy, dryRun: input.dryRun, signal: ctx.signal })
      return { dryRun: r.dryRun, kept: r.kept.map((d) => ({ ...d, reasons: [...d.reasons] })), removed: r.removed.map((d) => ({ ...d, reasons: [...d.reasons] })), skipped: [...r.skipped], locked: [...r.locked] }
    })

  const gc: Handler<'repo.gc'> = (input) => {
    const repoRef = ref(input)
    const job = deps.jobs.start({
      kind: 'repo.gc',
      retry: retryOf('repo.gc', input),
      title: `${input.dryRun ? 'Estimate space to reclaim in' : 'Reclaim space in'} ${deps.repositories.resolve(repoRef)}`,
      run: async (ctx) => {
        const repo = await deps.repositories.open(repoRef, ctx.signal)
        try {
          const report = await repo.gc({ dryRun: input.dryRun, signal: ctx.signal, progress: ctx.progress })
          ctx.log('info', `${report.chunksDeleted} unused chunks ${input.dryRun ? 'could be deleted' : 'deleted'} (${report.bytesFreed} bytes); ${report.chunksInUse} in use.`)
          return report
        } finally {
          await repo.close()
        }
      },
    })
    return Promise.resolve({ jobId: job.id })
  }

  const list: Handler<'points.list'> = (input, ctx) =>
    withRepo(input, ctx.signal, async (repo) => {
      const points = await repo.listPoints(ctx.signal)
      const checks = await deps.pointChecks.forRepository(repo.info().id)
      const vm = input.vm?.toLowerCase()
      return points
        .filter((p) => vm === undefined || p.vm.id.toLowerCase() === vm || p.vm.name.toLowerCase() === vm)
        .sort((a, b) => b.finishedAt.localeCompare(a.finishedAt))
        .map((p) => withCheck({ ...p, disks: [...p.disks] }, checks))
    })

  const get: Handler<'points.get'> = (input, ctx) =>
    withRepo(input, ctx.signal, async (repo) => {
      const s = summarize(await repo.getPoint(input.pointId, ctx.signal))
      return withCheck({ ...s, disks: [...s.disks] }, await deps.pointChecks.forRepository(repo.info().id))
    })

  const exportDisk: Handler<'points.export'> = (input) => {
    const repoRef = ref(input)
    if (!path.isAbsolute(input.output)) throw new ApiError('INVALID_INPUT', 'Give the output file as an absolute path.', { field: 'output' })
    const job = deps.jobs.start({
      kind: 'points.export',
      retry: retryOf('points.export', input),
      title: `Export ${input.disk} of ${input.pointId} as ${input.format.toUpperCase()}`,
      run: async (ctx) => {
        const repo = await deps.repositories.open(repoRef, ctx.signal)
        try {
          const result = await repo.export({ pointId: input.pointId, disk: input.disk, format: input.format, output: input.output, signal: ctx.signal, progress: ctx.progress })
          ctx.log('info', `Wrote ${input.output} (${result.bytesWritten} bytes, disk size ${result.virtualSize}).`)
          return { ...result, output: input.output }
        } finally {
          await repo.close()
        }
      },
    })
    return Promise.resolve({ jobId: job.id })
  }

  const backup: Handler<'backup.file'> = (input) => {
    const repoRef = ref(input)
    if (!path.isAbsolute(input.image)) throw new ApiError('INVALID_INPUT', 'Give the image file as an absolute path.', { field: 'image' })
    const name = input.vmName ?? path.basename(input.image).replace(/\.(raw|img|qcow2|vhdx?|avhdx)$/i, '')
    const job = deps.jobs.start({
      kind: 'backup.file',
      retry: retryOf('backup.file', input),
      title: `Back up ${path.basename(input.image)}`,
      steps: [
        { id: 'open', label: 'Open the image' },
        { id: 'ingest', label: 'Store new data in the repository' },
      ],
      run: async (ctx) => {
        const endOpen = ctx.step('open')
        const image = await openImageFile(input.image, { signal: ctx.signal })
        try {
          const repo = await deps.repositories.open(repoRef, ctx.signal)
          try {
            endOpen()
            const endIngest = ctx.step('ingest')
            ctx.log('info', `${input.image}: ${image.format}, ${image.size} bytes`)
            const previous = (await repo.listPoints(ctx.signal)).filter((p) => p.vm.id === `file:${input.image}`).sort((a, b) => b.finishedAt.localeCompare(a.finishedAt))[0]
            const point = await repo.ingest({
              vm: { id: `file:${input.image}`, name, config: { kind: 'image-file', path: input.image, format: image.format } },
              sourceHost: { name: 'local', kind: 'file' },
              mode: 'cold',
              consistency: 'offline',
              disks: [{ name: 'disk0', source: image }],
              ...(previous ? { parentId: previous.id } : {}),
              signal: ctx.signal,
              progress: ctx.progress,
            })
            endIngest()
            ctx.log('info', `Restore point ${point.id}: ${point.stats.bytesRead} bytes read, ${point.stats.bytesHoles ?? 0} skipped as holes, ${point.stats.bytesZero ?? 0} found as zeros, ${point.stats.bytesNew} new, ${point.stats.bytesStored} stored.`)
            return point
          } finally {
            await repo.close()
          }
        } finally {
          await image.close()
        }
      },
    })
    return Promise.resolve({ jobId: job.id })
  }

  return {
    'repo.init': init,
    'repo.info': info,
    'repo.check': check,
    'repo.verify': verify,
    'repo.setObjectLock': setObjectLock,
    'repo.prune': prune,
    'repo.gc': gc,
    'points.list': list,
    'points.get': get,
    'points.export': exportDisk,
    'backup.file': backup,
  } as const
}
