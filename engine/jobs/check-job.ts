import type { BootCheckResult } from '../../adapters/host-adapter'
import type { PointCheckDto } from '../api/contract-checks'
import { ApiError } from '../api/contract-errors'
import type { Repositories } from '../repository-access/repositories'
import { encodeDisk } from '../repository/export/export'
import type { PointDiskSource } from '../repository/read/point-disk'
import type { PointChecks } from '../state/point-checks'
import type { SavedHost } from '../state/hosts-store'
import { connectHost, type HostAccessDeps } from '../inventory/host-access'
import type { JobSpec } from './job-runner'
import { retryOf } from './retry'

export interface PointCheckRequest {
  readonly pointId: string
  readonly repo?: string
  readonly timeoutSec: number
  readonly command?: string
}

export interface PointCheckJobDeps extends HostAccessDeps {
  readonly repositories: Repositories
  readonly pointChecks: PointChecks
}

/**
 * A health check as a job: the point's disks go to the host, a temporary VM boots them, the host's proof of life
 * decides. The job succeeds when it reached a verdict — booted or not — and its result is that verdict, which is also
 * kept with the point; it fails only when no verdict could be reached (host unreachable, cancelled, a disk unreadable).
 */
export function pointCheckJob(deps: PointCheckJobDeps, record: SavedHost, request: PointCheckRequest): JobSpec<PointCheckDto> {
  return {
    kind: 'points.check',
    title: `Health check of ${request.pointId} on ${record.name}`,
    hostId: record.id,
    retry: retryOf('points.check', { point: request.pointId, host: record.id, timeoutSec: request.timeoutSec, ...(request.repo !== undefined ? { repo: request.repo } : {}), ...(request.command !== undefined ? { command: request.command } : {}) }),
    steps: [
      { id: 'connect', label: 'Open the restore point and connect to the host' },
      { id: 'restore', label: 'Write the disks as a temporary VM with no network' },
      { id: 'boot', label: 'Boot it and wait for the guest to answer' },
      { id: 'proof', label: 'Prove it (command, screenshot) and remove the VM' },
    ],
    run: async (ctx) => {
      const { signal } = ctx
      const started = Date.now()
      let end = ctx.step('connect')
      let current = 'connect'
      const enter = (phase: 'restore' | 'boot' | 'proof') => {
        if (phase === current) return
        end()
        current = phase
        end = ctx.step(phase)
      }
      const repo = await deps.repositories.open(request.repo === undefined ? {} : { location: request.repo }, signal)
      try {
        const manifest = await repo.getPoint(request.pointId, signal)
        const adapter = await connectHost(deps, record, signal)
        const opened: PointDiskSource[] = []
        let result: BootCheckResult
        try {
          if (adapter.healthCheck === undefined) throw new ApiError('NOT_SUPPORTED', `${record.name} cannot run health checks in this version of Lifeboat (KVM/libvirt, XenServer/XCP-ng and Hyper-V hosts can).`)
          const config = manifest.vm.config
          const hostConfig = typeof config === 'object' && config !== null && !Array.isArray(config) && 'host' in config ? config.host : config
          for (const d of manifest.disks) opened.push(await repo.openDisk(manifest.id, d.name, { signal }))
          result = await adapter.healthCheck.bootCheck(
            {
              jobId: ctx.jobId,
              vmConfig: hostConfig ?? null,
              disks: opened.map((source, i) => {
                const d = manifest.disks[i]
                if (d === undefined) throw new ApiError('INTERNAL', 'A restore point disk was opened that its manifest does not list.')
                // For hosts that keep disks as image files (Hyper-V): the disk encoded by the repository's export writers.
                return { name: d.name, size: d.size, source, ...(d.meta !== undefined ? { meta: d.meta } : {}), encode: (format: 'vhdx' | 'vhd', sig?: AbortSignal) => encodeDisk(source, format, sig ?? signal) }
              }),
              timeoutMs: request.timeoutSec * 1000,
              ...(request.command !== undefined ? { command: request.command } : {}),
              log: (level, message) => ctx.log(level, message),
              phase: (phase, detail) => {
                enter(phase)
                ctx.progress({ phase, bytesDone: 0, ...(detail !== undefined ? { detail } : {}) })
              },
              progress: (bytesDone, bytesTotal, detail) => ctx.progress({ phase: 'restore', bytesDone, bytesTotal, ...(detail !== undefined ? { detail } : {}) }),
            },
            signal,
          )
        } finally {
          for (const d of opened) await d.close().catch(() => undefined)
          await adapter.close().catch(() => undefined)
        }
        end()
        for (const l of result.leftBehind) ctx.leftBehind(l)
        const screenshot = result.screenshot === undefined ? undefined : { path: await deps.pointChecks.saveScreenshot(ctx.jobId, result.screenshot.format, result.screenshot.data), format: result.screenshot.format }
        const check: PointCheckDto = {
          pointId: manifest.id,
          repositoryId: repo.info().id,
          jobId: ctx.jobId,
          host: { id: record.id, name: record.name },
          checkedAt: new Date().toISOString(),
          verdict: result.booted ? 'booted' : 'failed',
          summary: `${result.booted ? 'Booted' : 'Failed'} — ${result.reason}`,
          reason: result.reason,
          timings: { ...result.timings, totalMs: Date.now() - started },
          ...(screenshot !== undefined ? { screenshot } : {}),
          ...(result.command !== undefined ? { command: { ...result.command } } : {}),
        }
        await deps.pointChecks.record(check)
        ctx.log(result.booted ? 'info' : 'error', `${check.summary} (restore ${seconds(check.timings.restoreMs)}, boot ${seconds(check.timings.bootMs)}, proof ${seconds(check.timings.proofMs)}).`)
        return check
      } finally {
        await repo.close()
      }
    },
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}
