import { ApiError } from '../api/contract-errors'
import type { JobContext } from '../jobs/job-runner'
import type { Repositories, RepositoryRef } from '../repository-access/repositories'
import type { CopyReport, PruneReport, RepairReport } from '../repository'
import type { S3Credentials } from '../state/secret-store'
import type { ProgressSink } from '../common/progress'
import type { PlanCopy, VmCopiesDto } from '../api/contract-copies'
import type { CopyRecords } from './copy-records'
import { isOffMachine } from './off-machine'

export interface CopyServiceDeps {
  readonly repositories: Repositories
  readonly records: CopyRecords
  readonly now?: () => Date
}

export interface CopyRequest {
  readonly from: RepositoryRef
  readonly pointId: string
  readonly to: RepositoryRef
  readonly s3Credentials?: S3Credentials | undefined
  readonly signal?: AbortSignal | undefined
  readonly progress?: ProgressSink | undefined
}

/**
 * Copies restore points to second repositories and keeps the record of which copies exist (the app's "2 copies ·
 * 1 off this machine"); repairs a repository from one of its copies. Every storage it opens is closed on every path.
 */
export class CopyService {
  constructor(private readonly deps: CopyServiceDeps) {}

  async copy(request: CopyRequest): Promise<CopyReport> {
    const { repositories } = this.deps
    const targetLocation = repositories.locate(request.to)
    if (repositories.resolve(request.from) === repositories.resolve(request.to)) {
      throw new ApiError('INVALID_INPUT', 'A restore point cannot be copied into the repository it is in: give another place with --to.', { field: 'to' })
    }
    const repo = await repositories.open(request.from, request.signal)
    try {
      const target = await repositories.openStorage(request.to, { s3Credentials: request.s3Credentials, signal: request.signal })
      let report: CopyReport
      try {
        report = await repo.copyPoint({
          pointId: request.pointId,
          target,
          ...(request.signal ? { signal: request.signal } : {}),
          ...(request.progress ? { progress: request.progress } : {}),
        })
      } finally {
        await target.close().catch(() => undefined)
      }
      // Saved only once a copy worked: a failed one leaves no secrets behind.
      if (request.s3Credentials !== undefined) await repositories.saveS3Credentials(request.to, request.s3Credentials)
      if (repo.info().encrypted) await repositories.sharePassphrase(request.from, request.to)
      const point = await repo.getPoint(request.pointId, request.signal)
      await this.deps.records.add({
        repositoryId: repo.info().id,
        pointId: request.pointId,
        vmId: point.vm.id,
        location: repositories.resolve(request.to),
        offMachine: await isOffMachine(targetLocation),
        copiedAt: (this.deps.now?.() ?? new Date()).toISOString(),
      })
      return report
    } finally {
      await repo.close()
    }
  }

  async repair(from: RepositoryRef, copy: RepositoryRef, signal?: AbortSignal, progress?: ProgressSink): Promise<RepairReport> {
    const repo = await this.deps.repositories.open(from, signal)
    try {
      const source = await this.deps.repositories.openStorage(copy, { signal })
      try {
        return await repo.repairFrom({ from: source, ...(signal ? { signal } : {}), ...(progress ? { progress } : {}) })
      } finally {
        await source.close().catch(() => undefined)
      }
    } finally {
      await repo.close()
    }
  }

  /** Per VM of a repository: its newest point, and every proven copy of it (this repository counted as one). */
  async summary(ref: RepositoryRef, signal?: AbortSignal): Promise<VmCopiesDto[]> {
    const { repositories } = this.deps
    const repo = await repositories.open(ref, signal)
    let points
    let repositoryId
    try {
      points = await repo.listPoints(signal)
      repositoryId = repo.info().id
    } finally {
      await repo.close()
    }
    const newest = new Map<string, (typeof points)[number]>()
    for (const p of points) {
      const seen = newest.get(p.vm.id)
      // Ids carry the second a backup began; two in one second order by finishedAt (milliseconds), as elsewhere.
      if (seen === undefined || p.finishedAt > seen.finishedAt || (p.finishedAt === seen.finishedAt && p.id > seen.id)) newest.set(p.vm.id, p)
    }
    const records = await this.deps.records.forRepository(repositoryId)
    const primary = { location: repositories.resolve(ref), offMachine: await isOffMachine(repositories.locate(ref)), primary: true }
    return [...newest.values()]
      .sort((a, b) => a.vm.name.localeCompare(b.vm.name))
      .map((p) => {
        const copies = records.filter((r) => r.pointId === p.id && r.location !== primary.location)
        const places = [primary, ...copies.map((c) => ({ location: c.location, offMachine: c.offMachine, primary: false, copiedAt: c.copiedAt }))]
        return { vmId: p.vm.id, vmName: p.vm.name, pointId: p.id, copies: places.length, offMachine: places.filter((x) => x.offMachine).length, places }
      })
  }

  /**
   * After a plan's run: copies its new points to each of the plan's copy places, then applies that copy's retention
   * to the plan's VMs there. A copy that fails does not undo the backup; it fails the run's copy step with its reason.
   */
  async copyForPlan(plan: { repo?: string | undefined; copies?: readonly PlanCopy[] | undefined }, pointIds: readonly string[], vmIds: readonly string[], ctx: JobContext): Promise<string[]> {
    const failures: string[] = []
    const from: RepositoryRef = plan.repo !== undefined ? { location: plan.repo } : {}
    for (const place of plan.copies ?? []) {
      const to: RepositoryRef = { location: place.to }
      const label = this.deps.repositories.resolve(to)
      try {
        for (const pointId of pointIds) {
          const r = await this.copy({ from, pointId, to, signal: ctx.signal, progress: ctx.progress })
          ctx.log('info', `Copy to ${label}: restore point ${pointId} ${r.alreadyThere ? 'was already there' : `copied and verified (${r.chunksSent} chunks sent, ${r.chunksShared} already there)`}.`)
        }
        if (place.retention !== undefined && vmIds.length > 0) {
          const pruned = await this.pruneCopy(to, place.retention, vmIds, ctx.signal)
          ctx.log('info', `Copy at ${label}: ${pruned.removed.length} older restore point(s) removed by its retention, ${pruned.kept.length} kept.`)
          for (const l of pruned.locked) ctx.log('info', `Copy at ${label}: restore point ${l.pointId} is kept although its retention would remove it: S3 Object Lock protects it until ${l.until}.`)
        }
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err)
        failures.push(`copy to ${label}: ${message}`)
        ctx.log('error', `Copy to ${label} failed: ${message}`)
      }
    }
    return failures
  }

  private async pruneCopy(to: RepositoryRef, policy: NonNullable<PlanCopy['retention']>, vmIds: readonly string[], signal: AbortSignal): Promise<PruneReport> {
    const copy = await this.deps.repositories.open(to, signal)
    try {
      const report = await copy.prune({ policy, vmIds, signal })
      await this.deps.records.forget(copy.info().id, this.deps.repositories.resolve(to), report.removed.map((d) => d.id))
      return report
    } finally {
      await copy.close()
    }
  }
}
