import type { HostAdapter, VmSnapshotDetail } from '../../adapters/host-adapter'
import { connectHost, findHost, findVm } from '../inventory/host-access'
import { restoreJob } from '../jobs/restore-job'
import { refreshWhenDone } from '../jobs/start-backup'
import type { SnapshotDto } from './contract-backup'
import { ApiError } from './contract-errors'
import type { Handler } from './handler-types'
import type { HandlerDeps } from './handler-deps'

/** Runs `body` with a connected adapter of its own for the host, closed afterwards. */
async function withHost<R>(deps: HandlerDeps, host: string, signal: AbortSignal, body: (adapter: HostAdapter, name: string, hostId: string) => Promise<R>): Promise<R> {
  const record = await findHost(deps, host)
  const adapter = await connectHost(deps, record, signal)
  try {
    return await body(adapter, record.name, record.id)
  } finally {
    await adapter.close().catch(() => undefined)
  }
}

function snapshotDto(s: VmSnapshotDetail): SnapshotDto {
  const { warnings, ...rest } = s
  return { ...rest, ...(warnings !== undefined ? { warnings: [...warnings] } : {}) }
}

function withKept(s: SnapshotDto, keptAt: string | undefined): SnapshotDto {
  return keptAt === undefined ? s : { ...s, keptAt }
}

function need<T>(capability: T | undefined, what: string): T {
  if (capability === undefined) throw new ApiError('NOT_SUPPORTED', `This host cannot ${what} in this version of Lifeboat.`)
  return capability
}

export function backupHandlers(deps: HandlerDeps) {
  const modes: Handler<'backup.modes'> = (input, ctx) =>
    withHost(deps, input.host, ctx.signal, async (adapter, name) => {
      const vm = await findVm(adapter, name, input.vm, ctx.signal)
      return [...(await need(adapter.backup, 'make backups').modes(vm.id, ctx.signal))]
    })
  const start: Handler<'backup.start'> = (input) => deps.startBackup(input)
  const restore: Handler<'restore.start'> = async (input) => {
    if (input.inPlace && !input.confirm) {
      throw new ApiError('INVALID_INPUT', 'An in-place restore overwrites the VM\'s disks; it needs explicit confirmation (confirm: true, or --yes).', { field: 'confirm' })
    }
    const record = await findHost(deps, input.toHost)
    const job = deps.jobs.start(
      restoreJob(deps, record, {
        pointId: input.point,
        toHost: input.toHost,
        start: input.start,
        inPlace: input.inPlace,
        ...(input.repo !== undefined ? { repo: input.repo } : {}),
        ...(input.as !== undefined ? { as: input.as } : {}),
        ...(input.storageDir !== undefined ? { storageDir: input.storageDir } : {}),
      }),
    )
    refreshWhenDone(deps, job.id, record.id)
    return { jobId: job.id }
  }
  const list: Handler<'snapshots.list'> = (input, ctx) =>
    withHost(deps, input.host, ctx.signal, async (adapter, name, hostId) => {
      const vm = await findVm(adapter, name, input.vm, ctx.signal)
      const snapshots = await need(adapter.snapshots, 'take snapshots').list(vm.id, ctx.signal)
      await deps.snapshotReviews.prune(hostId, vm.id, new Set(snapshots.map((s) => s.id)))
      const kept = new Map((await deps.snapshotReviews.forVm(hostId, vm.id)).map((r) => [r.snapshotId, r.keptAt]))
      // This is where a review date is known to have passed: alert once per snapshot, without holding the answer.
      const now = Date.now()
      const overdue = snapshots
        .filter((s) => s.lifeboat && s.expiresAt !== undefined && Date.parse(s.expiresAt) < now && !kept.has(s.id))
        .map((s) => ({ key: s.id, vm: vm.name, snapshot: s.label ?? s.name, reviewBy: s.expiresAt ?? '' }))
      void deps.notify?.checkSnapshotReviews(`${hostId}/${vm.id}`, overdue)
      return snapshots.map((s) => withKept(snapshotDto(s), kept.get(s.id)))
    })
  const keep: Handler<'snapshots.keep'> = (input, ctx) =>
    withHost(deps, input.host, ctx.signal, async (adapter, name, hostId) => {
      const vm = await findVm(adapter, name, input.vm, ctx.signal)
      const snapshot = (await need(adapter.snapshots, 'take snapshots').list(vm.id, ctx.signal)).find((s) => s.id === input.snapshot || s.name === input.snapshot)
      if (!snapshot) throw new ApiError('NOT_FOUND', `${vm.name} has no snapshot "${input.snapshot}".`, { snapshot: input.snapshot })
      const review = await deps.snapshotReviews.keep(hostId, vm.id, snapshot.id)
      return withKept(snapshotDto(snapshot), review.keptAt)
    })
  const create: Handler<'snapshots.create'> = (input, ctx) =>
    withHost(deps, input.host, ctx.signal, async (adapter, name) => {
      const vm = await findVm(adapter, name, input.vm, ctx.signal)
      return snapshotDto(await need(adapter.snapshots, 'take snapshots').create(vm.id, { label: input.label, ...(input.expiresAt !== undefined ? { expiresAt: input.expiresAt } : {}) }, ctx.signal))
    })
  const revert: Handler<'snapshots.revert'> = (input, ctx) =>
    withHost(deps, input.host, ctx.signal, async (adapter, name) => {
      const vm = await findVm(adapter, name, input.vm, ctx.signal)
      await need(adapter.snapshots, 'take snapshots').revert(vm.id, input.snapshot, input.start === undefined ? {} : { start: input.start }, ctx.signal)
      return {}
    })
  const remove: Handler<'snapshots.remove'> = (input, ctx) =>
    withHost(deps, input.host, ctx.signal, async (adapter, name) => {
      const vm = await findVm(adapter, name, input.vm, ctx.signal)
      await need(adapter.snapshots, 'take snapshots').remove(vm.id, input.snapshot, ctx.signal)
      return {}
    })
  const leftovers: Handler<'leftovers.list'> = (input, ctx) =>
    withHost(deps, input.host, ctx.signal, async (adapter) => [...(await need(adapter.reconcile, 'look for leftovers').find(ctx.signal))])
  const clean: Handler<'leftovers.clean'> = (input, ctx) =>
    withHost(deps, input.host, ctx.signal, async (adapter) => {
      const r = await need(adapter.reconcile, 'look for leftovers').clean(input.ids, ctx.signal)
      return { cleaned: [...r.cleaned], failed: r.failed.map((f) => ({ ...f })) }
    })
  const manualList: Handler<'manualVms.list'> = (input, ctx) =>
    withHost(deps, input.host, ctx.signal, async (adapter) => (await need(adapter.manualVms, 'register VMs').list(ctx.signal)).map((v) => ({ ...v, disks: [...v.disks], ...(v.commands ? { commands: { ...v.commands } } : {}) })))
  const manualRegister: Handler<'manualVms.register'> = (input, ctx) =>
    withHost(deps, input.host, ctx.signal, async (adapter) => {
      const { host: _host, ...spec } = input
      return await need(adapter.manualVms, 'register VMs').register(spec, ctx.signal)
    })
  const manualUnregister: Handler<'manualVms.unregister'> = (input, ctx) =>
    withHost(deps, input.host, ctx.signal, async (adapter) => {
      await need(adapter.manualVms, 'register VMs').unregister(input.vm, ctx.signal)
      return {}
    })
  return {
    'manualVms.list': manualList,
    'manualVms.register': manualRegister,
    'manualVms.unregister': manualUnregister,
    'backup.modes': modes,
    'backup.start': start,
    'restore.start': restore,
    'snapshots.list': list,
    'snapshots.create': create,
    'snapshots.revert': revert,
    'snapshots.remove': remove,
    'snapshots.keep': keep,
    'leftovers.list': leftovers,
    'leftovers.clean': clean,
  } as const
}
