import { AdapterError, type BackupSession, type HostAdapter, type JsonValue, type Vm } from '../../adapters/host-adapter'
import type { backupStart } from '../api/contract-backup'
import type { ParsedInputOf } from '../api/contract-core'
import { ApiError } from '../api/contract-errors'
import type { Repositories } from '../repository-access/repositories'
import { isRepositoryError, type PointSummary, type Repository } from '../repository'
import type { BlockSource } from '../disks/block-source'
import { DiskFormatError } from '../disks/errors'
import type { SavedHost } from '../state/hosts-store'
import { prepareDisk, type PreparedDisk } from './disk-ingest'
import { connectHost, findVm, type HostAccessDeps } from '../inventory/host-access'
import type { JobContext, JobSpec } from './job-runner'
import { cleanSafeLeftovers } from './leftovers'
import { retryOf } from './retry'
import { runHookStep } from './hook-step'

/** What a backup is asked to do: the `backup.start` call as parsed (defaults applied); the job's own input. */
export type BackupRequest = ParsedInputOf<typeof backupStart>

export interface BackupJobDeps extends HostAccessDeps {
  readonly repositories: Repositories
}

/** Time allowed for the host-side cleanup after the job itself was cancelled (merging overlays can take a while). */
const CLEANUP_MS = 6 * 3600_000

/** What Lifeboat keeps as the VM's configuration: the host's own description plus the adapter's incremental token. */
export interface StoredVmConfig {
  readonly host: JsonValue
  readonly incrementalToken: JsonValue
  readonly adapter: string
}

/** How one disk was read: only what changed since a base restore point, or whole (with the reason in plain words). */
export type DiskRead = { readonly disk: string; readonly read: 'incremental'; readonly base: string } | { readonly disk: string; readonly read: 'full'; readonly reason: string }

/** A backup job's result: the restore point, and for each disk whether it was incremental (and from which point) or full and why. */
export type BackupResult = PointSummary & { readonly reads: readonly DiskRead[] }

/**
 * A backup as a job: plan → pre-hook → adapter.begin (quiesce/stop/suspend → snapshot → resume) → every disk into the
 * repository → session.finish() always → post-hook always. A cancelled or failed backup writes no restore point; what
 * the host side could not undo is reported as left behind, in plain words.
 */
export function backupJob(deps: BackupJobDeps, record: SavedHost, request: BackupRequest, known?: { readonly vmId: string; readonly vmName: string }): JobSpec<BackupResult> {
  return {
    kind: 'backup',
    title: `${request.mode[0]?.toUpperCase() ?? ''}${request.mode.slice(1)} backup of ${known?.vmName ?? request.vm} on ${record.name}`,
    hostId: record.id,
    ...(known !== undefined ? { vmId: known.vmId } : {}),
    retry: retryOf('backup.start', request),
    steps: [
      { id: 'connect', label: 'Connect to the host' },
      { id: 'plan', label: 'Plan' },
      { id: 'pre-hook', label: 'Pre-backup script' },
      { id: 'snapshot', label: 'Prepare the disks (stop, suspend or snapshot)' },
      { id: 'read', label: 'Read the disks into the repository' },
      { id: 'cleanup', label: 'Clean up on the host' },
      { id: 'post-hook', label: 'Post-backup script' },
    ],
    run: (ctx) => runBackup(deps, record, request, ctx),
  }
}

async function runBackup(deps: BackupJobDeps, record: SavedHost, request: BackupRequest, ctx: JobContext): Promise<BackupResult> {
  const { signal } = ctx
  let end = ctx.step('connect')
  const adapter = await connectHost(deps, record, signal)
  try {
    if (adapter.backup === undefined) throw new ApiError('NOT_SUPPORTED', `${record.name} cannot make backups in this version of Lifeboat.`)
    // Looking up the VM does not wait for the leftover check (both are host round trips); the cleanup ends first.
    const found = findVm(adapter, record.name, request.vm, signal)
    found.catch(() => undefined)
    await cleanSafeLeftovers(adapter, record.name, ctx)
    const vm = await found
    end()
    end = ctx.step('plan')
    // Whether the mode is possible is checked by begin() itself (with the reason); asking modes() first would only
    // repeat the same host round trips.
    const repo = await deps.repositories.open(request.repo === undefined ? {} : { location: request.repo }, signal)
    try {
      const previous = request.incremental ? await previousPoint(repo, record, vm, signal) : undefined
      end()
      return await withHooks(adapter, vm, request, ctx, () => backUp(adapter, repo, record, vm, request, previous, ctx))
    } finally {
      await repo.close()
    }
  } finally {
    await adapter.close().catch(() => undefined)
  }
}

async function withHooks<R>(adapter: HostAdapter, vm: Vm, request: BackupRequest, ctx: JobContext, body: () => Promise<R>): Promise<R> {
  const hookFor = { vmId: vm.id, vmName: vm.name, jobId: ctx.jobId, mode: request.mode }
  let outcome = 'failed'
  try {
    if (request.preHook !== undefined) await runHookStep(adapter, { ...hookFor, command: request.preHook, phase: 'pre' }, ctx, 'pre-hook', true)
    else ctx.step('pre-hook')('skipped')
    const result = await body()
    outcome = 'succeeded'
    return result
  } catch (err) {
    outcome = ctx.signal.aborted ? 'cancelled' : 'failed'
    throw err
  } finally {
    if (request.postHook !== undefined) await runHookStep(adapter, { ...hookFor, command: request.postHook, phase: 'post', outcome }, ctx, 'post-hook', false)
    else ctx.step('post-hook')('skipped')
  }
}

/**
 * The repository reports any failure inside ingest as its own (STORAGE_FAILED); a failure of the source — the host
 * connection dropped, a disk image unreadable — is the admin's real problem, so it is rethrown as itself.
 */
async function ingestUnwrapped(repo: Repository, options: Parameters<Repository['ingest']>[0]): Promise<PointSummary> {
  try {
    return await repo.ingest(options)
  } catch (err) {
    if (isRepositoryError(err) && err.code !== 'CANCELLED' && err.code !== 'NO_SPACE') {
      let cause: unknown = err.cause
      for (let depth = 0; depth < 5 && cause instanceof Error; depth++) {
        if (cause instanceof AdapterError || cause instanceof DiskFormatError) throw cause
        cause = cause.cause
      }
    }
    throw err
  }
}

/** The newest restore point of this VM from this host, with the adapter's token for an incremental. */
async function previousPoint(repo: Repository, record: SavedHost, vm: Vm, signal: AbortSignal): Promise<{ pointId: string; token: JsonValue } | undefined> {
  const points = (await repo.listPoints(signal)).filter((p) => p.vm.id === vm.id && p.sourceHost.id === record.id).sort((a, b) => b.finishedAt.localeCompare(a.finishedAt))
  const latest = points[0]
  if (latest === undefined) return undefined
  const manifest = await repo.getPoint(latest.id, signal)
  const config = manifest.vm.config
  const token = typeof config === 'object' && config !== null && !Array.isArray(config) ? (config as Record<string, JsonValue>).incrementalToken : undefined
  return { pointId: latest.id, token: token ?? null }
}

/** The same disk (name and size) in the previous restore point, or undefined when it is not there. */
async function openParentDisk(repo: Repository, pointId: string, name: string, size: number, signal: AbortSignal): Promise<BlockSource | undefined> {
  try {
    const disk = await repo.openDisk(pointId, name, { signal })
    if (disk.size === size) return disk
    await disk.close()
  } catch {
    // No such disk or point: the host's source serves the whole chunks instead.
  }
  return undefined
}

async function backUp(adapter: HostAdapter, repo: Repository, record: SavedHost, vm: Vm, request: BackupRequest, previous: { pointId: string; token: JsonValue } | undefined, ctx: JobContext): Promise<BackupResult> {
  const { signal } = ctx
  const backup = adapter.backup
  if (backup === undefined) throw new ApiError('NOT_SUPPORTED', 'No backups on this host.')
  let end = ctx.step('snapshot')
  const session: BackupSession = await backup.begin(
    vm.id,
    {
      mode: request.mode,
      quiesce: request.quiesce,
      ...(request.requireQuiesce ? { quiesceRequired: true } : {}),
      shutdownTimeoutMs: request.shutdownTimeoutSec * 1000,
      forceOffAfterTimeout: request.forceOffAfterTimeout,
      jobId: ctx.jobId,
      incremental: request.incremental,
      ...(previous !== undefined ? { previous } : {}),
      ...(request.changeBudgetPercent !== undefined ? { changeBudget: { percent: request.changeBudgetPercent } } : {}),
      log: (level, message) => ctx.log(level, message),
      phase: (phase, detail) => ctx.progress({ phase, bytesDone: 0, ...(detail !== undefined ? { detail } : {}) }),
    },
    signal,
  )
  end()
  let committed = false
  const prepared: PreparedDisk[] = []
  try {
    if (session.fullReason !== undefined) ctx.log('warn', session.fullReason)
    for (const d of session.disks) if (d.fullReason !== undefined && d.fullReason !== session.fullReason) ctx.log('warn', d.fullReason)
    ctx.log('info', `Consistency of this restore point: ${session.consistency === 'app' ? 'application-consistent (guest quiesced)' : session.consistency === 'crash' ? 'crash-consistent' : 'offline (VM was shut down)'}.`)
    end = ctx.step('read')
    const parentDisk = previous === undefined ? undefined : (name: string, size: number) => openParentDisk(repo, previous.pointId, name, size, signal)
    const log = (message: string): void => ctx.log('info', message)
    for (const d of session.disks) prepared.push(await prepareDisk(d, signal, parentDisk === undefined ? { log } : { parentDisk, log }))
    const incremental = session.disks.some((d) => d.readout.changedRanges !== undefined)
    const config: StoredVmConfig = { host: session.vmConfig, incrementalToken: session.incrementalToken ?? null, adapter: adapter.kind }
    const point = await ingestUnwrapped(repo, {
      vm: { id: vm.id, name: vm.name, config: JSON.parse(JSON.stringify(config)) as never },
      sourceHost: { name: record.name, kind: record.kind, id: record.id },
      mode: request.mode,
      consistency: session.consistency,
      disks: prepared.map((p) => p.ingest),
      ...(incremental && previous !== undefined ? { parentId: previous.pointId } : {}),
      signal,
      progress: ctx.progress,
    })
    committed = true
    end()
    ctx.log('info', `Restore point ${point.id} written (${point.stats.bytesRead} bytes read, ${point.stats.bytesHoles ?? 0} skipped as holes, ${point.stats.bytesZero ?? 0} found as zeros, ${point.stats.bytesNew} new).`)
    return { ...point, reads: diskReads(session, request, previous, incremental) }
  } finally {
    for (const p of prepared) await p.close().catch(() => undefined)
    const endCleanup = ctx.step('cleanup')
    const result = await session.finish(AbortSignal.timeout(CLEANUP_MS), { committed }).catch((err: unknown) => ({ leftBehind: [`Cleanup on the host failed: ${err instanceof Error ? err.message : String(err)}`] }))
    for (const l of result.leftBehind) ctx.leftBehind(l)
    endCleanup(result.leftBehind.length > 0 ? 'failed' : 'done')
  }
}

/** Whether each disk was read incrementally (and from which point) or whole, and why — never silently either. */
export function diskReads(session: BackupSession, request: Pick<BackupRequest, 'incremental' | 'mode'>, previous: { readonly pointId: string } | undefined, incremental: boolean): DiskRead[] {
  return session.disks.map((d): DiskRead => {
    if (d.readout.changedRanges !== undefined && incremental && previous !== undefined) return { disk: d.name, read: 'incremental', base: previous.pointId }
    const reason =
      d.fullReason ??
      session.fullReason ??
      (previous === undefined
        ? 'This is the first restore point of this VM in this repository.'
        : !request.incremental
          ? 'Incremental reading was turned off for this backup.'
          : request.mode === 'cold'
            ? 'A cold backup reads the whole disks (unchanged data is not stored again).'
            : 'This disk has no change tracking here; it is read whole (unchanged data is not stored again).')
    return { disk: d.name, read: 'full', reason }
  })
}
