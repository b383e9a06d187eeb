import type { Duplex } from 'node:stream'
import type { HostAdapter, InstantRunCapability, InstantRunDisk, InstantRunInfo, InstantRunSession } from '../../adapters/host-adapter'
import type { InstantRunDto, PointRunResultDto } from '../api/contract-run'
import { ApiError } from '../api/contract-errors'
import { serveNbdStream } from '../disks/nbd/nbd-server'
import { servedFromChunks, type ServedDisk } from '../disks/nbd/served-disk'
import { connectHost, type HostAccessDeps } from '../inventory/host-access'
import type { Repositories } from '../repository-access/repositories'
import { CHUNK_SIZE } from '../repository/format'
import type { SavedHost } from '../state/hosts-store'
import type { JobContext, JobSpec } from './job-runner'
import { retryOf } from './retry'

/** Decoded chunks kept per served disk (4 MiB each) and chunks fetched at once: a booting guest reads all over. */
export const RUN_CACHE_CHUNKS = 32
const RUN_PARALLEL_READS = 4
/** How often the run looks whether its VM was made permanent or discarded (by the app, another CLI or virsh). */
const WATCH_MS = 2000
/** After a lost connection: the wait before the first try again, doubled after each failed try up to the longest. */
const RECONNECT_FIRST_MS = 1000
const RECONNECT_LONGEST_MS = 30_000
/** One try to serve again (connect, lock, sockets, resume) gives up after this long; the next try follows. */
const RECONNECT_TRY_MS = 60_000

export interface PointRunRequest {
  readonly pointId: string
  readonly repo?: string
  /** The new VM's name; default `<original>-from-backup`. */
  readonly name?: string
  readonly network: 'none' | 'original'
  /** Serve an existing run again (its Lifeboat died) instead of starting a new VM. */
  readonly resume?: string
}

export interface RunJobDeps extends HostAccessDeps {
  readonly repositories: Repositories
}

/** Says in plain words why a host cannot run a VM from a backup, and what to do instead. */
export function requireInstantRun(adapter: HostAdapter, record: SavedHost, pointId: string): InstantRunCapability {
  if (adapter.instantRun !== undefined) return adapter.instantRun
  const why =
    record.kind === 'xenserver'
      ? 'XenServer/XCP-ng cannot yet be given a disk that Lifeboat serves (a VDI must live in a storage repository the pool can reach), so Lifeboat does not offer it there yet'
      : record.kind === 'hyperv'
        ? 'Hyper-V cannot yet boot a disk that Lifeboat serves over the network (a VHDX must be a file the host opens itself), so Lifeboat does not offer it there yet'
        : `${record.name} cannot do it in this version of Lifeboat`
  throw new ApiError('NOT_SUPPORTED', `Running a VM straight from a restore point works on KVM/libvirt hosts only: ${why}. Restore it in full instead: lifeboat restore ${pointId} --to-host ${record.name} --as NAME`, { host: record.name, kind: record.kind })
}

/** The serving jobs of this process, by host id and VM name: how each is asked to end before its VM is discarded. */
const servedHere = new Map<string, Set<() => Promise<void>>>()
const servedKey = (hostId: string, name: string) => `${hostId}\u0000${name}`

/** A serving job's entry in servedHere: runs.discard aborts `discarding`, then waits for the job to call `stopped`. */
export interface ServedHere {
  readonly discarding: AbortSignal
  /** Serving has stopped (sockets, folder, lock gone): the discard may go on; the entry leaves the list. */
  stopped(): void
}

/** Lists a job of this process as serving `name` on the host until it calls `stopped` (pointRunJob, once the VM runs). */
export function serveHere(hostId: string, name: string): ServedHere {
  const key = servedKey(hostId, name)
  const controller = new AbortController()
  let settle: () => void = () => undefined
  const done = new Promise<void>((resolve) => (settle = resolve))
  const end = () => {
    controller.abort()
    return done
  }
  const ends = servedHere.get(key) ?? new Set()
  ends.add(end)
  servedHere.set(key, ends)
  return {
    discarding: controller.signal,
    stopped() {
      ends.delete(end)
      if (ends.size === 0 && servedHere.get(key) === ends) servedHere.delete(key)
      settle()
    },
  }
}

/**
 * Before `runs.discard` removes a VM: a job of this process that serves it — or reconnects to serve it after a lost
 * connection — ends first. It stops serving (its sockets, their folder and the run's lock go), says in its log that the
 * VM is being discarded and ends with `discarded-elsewhere`, so it neither keeps reconnecting nor serves again for a
 * VM that is being removed, and a folder it made anew cannot outlive the discard. Resolves once serving has stopped
 * (at once when no job here serves the VM); throws CANCELLED when `signal` aborts first.
 */
export async function endServingForDiscard(hostId: string, name: string, signal: AbortSignal): Promise<void> {
  const ends = [...(servedHere.get(servedKey(hostId, name)) ?? [])]
  if (ends.length === 0) return
  let onAbort: (() => void) | undefined
  try {
    await Promise.race([
      Promise.all(ends.map((end) => end())),
      new Promise<void>((resolve) => {
        onAbort = () => resolve()
        signal.addEventListener('abort', onAbort, { once: true })
        if (signal.aborted) resolve()
      }),
    ])
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
  }
  if (signal.aborted) throw new ApiError('CANCELLED', `Discarding ${name} was cancelled while its serving job was stopping; run the discard again.`, { vm: name })
}

export function toRunDto(info: InstantRunInfo): InstantRunDto {
  return { ...info, disks: info.disks.map((d) => ({ ...d })) }
}

/**
 * A VM run from a restore point, as a job that lasts as long as Lifeboat serves its disks: it ends when the VM was
 * made permanent (it no longer needs Lifeboat) or discarded elsewhere, and when it is cancelled (Ctrl+C, the app's
 * Stop), which discards the VM — nothing of it is left on the host. If this process dies instead, the VM pauses on
 * its next read of the backup and waits for `--resume` (or discard). If the SSH connection that carries the disks'
 * sockets is lost while this process lives, the VM pauses the same way and the job connects again by itself (with
 * backoff, for as long as it runs), serves the same sockets again and resumes the VM.
 */
export function pointRunJob(deps: RunJobDeps, record: SavedHost, request: PointRunRequest): JobSpec<PointRunResultDto> {
  return {
    kind: 'points.run',
    title: request.resume !== undefined ? `Serve ${request.resume} again from ${request.pointId} on ${record.name}` : `Run ${request.pointId} on ${record.name}`,
    hostId: record.id,
    retry: retryOf('points.run', { point: request.pointId, host: record.id, network: request.network, ...(request.repo !== undefined ? { repo: request.repo } : {}), ...(request.name !== undefined ? { name: request.name } : {}), ...(request.resume !== undefined ? { resume: request.resume } : {}) }),
    steps: [
      { id: 'start', label: 'Serve the restore point and start the VM' },
      { id: 'running', label: 'Running from the backup (make it permanent or stop)' },
    ],
    run: async (ctx) => {
      const { signal } = ctx
      const started = Date.now()
      let end = ctx.step('start')
      const repo = await deps.repositories.open(request.repo === undefined ? {} : { location: request.repo }, signal)
      const served: ServedDisk[] = []
      try {
        const manifest = await repo.getPoint(request.pointId, signal)
        const adapter = await connectHost(deps, record, signal)
        let session: InstantRunSession | undefined
        // Listed while it serves: runs.discard in this process ends the serving first (endServingForDiscard).
        let here: ServedHere | undefined
        let outcome: PointRunResultDto['outcome'] = 'discarded'
        try {
          const run = requireInstantRun(adapter, record, manifest.id)
          let bytes = 0
          const disks: InstantRunDisk[] = []
          for (const d of manifest.disks) {
            const source = await repo.openDisk(manifest.id, d.name, { cacheChunks: RUN_CACHE_CHUNKS, parallelReads: RUN_PARALLEL_READS, signal })
            const disk = servedFromChunks(source, source.chunkList, CHUNK_SIZE)
            served.push(disk)
            const serve = (stream: Duplex) => {
              void serveNbdStream(stream, {
                disk,
                exportName: d.name,
                description: `disk ${d.name} of Lifeboat restore point ${manifest.id} (read-only)`,
                onServed: (n) => {
                  bytes += n
                },
                log: (m) => ctx.log('warn', `${d.name}: ${m}`),
              }).catch((err: unknown) => ctx.log('warn', `${d.name}: a connection from the host ended: ${err instanceof Error ? err.message : String(err)}`))
            }
            disks.push({ name: d.name, size: d.size, source, serve, ...(d.meta !== undefined ? { meta: d.meta } : {}) })
          }
          if (request.resume !== undefined) {
            session = await run.resume(request.resume, disks, signal)
          } else {
            const config = manifest.vm.config
            const hostConfig = typeof config === 'object' && config !== null && !Array.isArray(config) && 'host' in config ? config.host : config
            session = await run.start(
              {
                runId: ctx.jobId,
                pointId: manifest.id,
                vmConfig: hostConfig ?? null,
                disks,
                name: request.name ?? `${manifest.vm.name}-from-backup`,
                network: request.network,
                log: (level, message) => ctx.log(level, message),
                phase: (phase, detail) => ctx.progress({ phase: 'start', bytesDone: 0, detail: detail === undefined ? phase : `${phase}: ${detail}` }),
              },
              signal,
            )
          }
          const name = session.info.name
          here = serveHere(record.id, name)
          end()
          end = ctx.step('running')
          ctx.log('info', `${name} is ${session.info.state} from restore point ${manifest.id} after ${((Date.now() - started) / 1000).toFixed(1)} s; its writes go to ${session.info.disks.map((d) => d.overlay).join(', ')}. It needs Lifeboat until it is made permanent or discarded.`)
          ctx.progress({ phase: 'running', bytesDone: 0, vm: name, detail: name })
          outcome = await watchRun(run, session, name, record.name, () => bytes, ctx, here.discarding)
        } finally {
          if (session !== undefined) {
            const name = session.info.name
            for (const l of await session.stopServing()) ctx.leftBehind(l)
            here?.stopped()
            // Cancelled while runs.discard was stopping it: the discard removes the VM, not this job as well.
            if (outcome === 'discarded' && signal.aborted && here?.discarding.aborted !== true) {
              // Stopping is discarding: the VM cannot run on without Lifeboat, and its writes go with it.
              const r = await adapter.instantRun?.discard(name, AbortSignal.timeout(300_000)).catch((err: unknown) => ({ leftBehind: [`${name} could not be discarded (${err instanceof Error ? err.message : String(err)}); discard it with lifeboat runs discard ${name} --host ${record.name}.`] }))
              for (const l of r?.leftBehind ?? []) ctx.leftBehind(l)
              ctx.log('info', `Stopped: ${name} was turned off and removed with everything it wrote.`)
            }
          }
          await adapter.close().catch(() => undefined)
        }
        end()
        return { name: session.info.name, vmId: session.info.vmId, outcome, startedInMs: Date.now() - started }
      } finally {
        for (const d of served) await d.close().catch(() => undefined)
        await repo.close()
      }
    },
  }
}

/** Waits `ms`, or less when the signal aborts or `wake` is called (the caller receives it); false when aborted. */
async function pause(ms: number, signal: AbortSignal, onWake?: (wake: () => void) => void): Promise<boolean> {
  await new Promise<void>((resolve) => {
    const t = setTimeout(done, ms)
    function done() {
      clearTimeout(t)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
    onWake?.(done)
  })
  return !signal.aborted
}

/**
 * Serves until the VM no longer needs it (made permanent), is gone (discarded elsewhere), is being discarded by this
 * process (`discarding` aborts: runs.discard), or the job is cancelled. A lost connection (its close event, not a
 * guess from failed listings) is served again at once.
 */
export async function watchRun(run: InstantRunCapability, session: InstantRunSession, name: string, host: string, bytes: () => number, ctx: JobContext, discarding: AbortSignal = new AbortController().signal): Promise<PointRunResultDto['outcome']> {
  const { signal } = ctx
  // Whichever comes first ends every wait, try and listing of the watch.
  const stop = AbortSignal.any([signal, discarding])
  const stopped = (): PointRunResultDto['outcome'] => {
    if (signal.aborted) return 'discarded'
    ctx.log('info', `${name} is being discarded (runs discard): serving ends first, so nothing is served again for it.`)
    return 'discarded-elsewhere'
  }
  let lost: string | undefined
  let wake: (() => void) | undefined
  const off = session.onLost((reason) => {
    lost = reason
    wake?.()
  })
  try {
    let lastState = ''
    for (;;) {
      if (lost === undefined) await pause(WATCH_MS, stop, (w) => (wake = w))
      wake = undefined
      if (stop.aborted) return stopped()
      if (lost !== undefined) {
        const reason = lost
        const again = await serveAgain(session, name, host, reason, bytes, ctx, stop, () => (lost = undefined))
        if (again === 'stopped') return stopped()
        if (again === 'gone') return 'discarded-elsewhere'
        lastState = ''
        continue
      }
      const outcome = await look(run, name, bytes, ctx, stop, lastState)
      if (typeof outcome === 'string') lastState = outcome
      else return outcome.end
    }
  } finally {
    off()
  }
}

/**
 * After the connection was lost: tries to serve again until it works, the VM turns out to be gone from the host, or
 * `stop` aborts (cancelled, or being discarded), waiting longer after each failed try. The VM waits paused meanwhile
 * (its writes are in the overlay on the host; nothing is lost). Each try's number is the progress's `attempt`.
 * `clearLost` forgets a loss that happened before a try (the try serves on a new connection anyway).
 */
async function serveAgain(session: InstantRunSession, name: string, host: string, reason: string, bytes: () => number, ctx: JobContext, stop: AbortSignal, clearLost: () => void): Promise<'served' | 'gone' | 'stopped'> {
  const since = Date.now()
  ctx.log('warn', `The SSH connection to ${host} was lost (${reason}); ${name} pauses on its next read of the backup; reconnecting…`)
  let delay = RECONNECT_FIRST_MS
  for (let attempt = 1; ; attempt++) {
    ctx.progress({ phase: 'reconnecting', bytesDone: bytes(), attempt, vm: name, detail: `${name}: reconnecting to ${host}${attempt > 1 ? ` (try ${attempt})` : ''}` })
    clearLost()
    try {
      const again = await session.serveAgain(AbortSignal.any([stop, AbortSignal.timeout(RECONNECT_TRY_MS)]))
      if (again.gone) {
        ctx.log('info', `Reconnected to ${host}: ${name} is no longer there (discarded elsewhere while the connection was down); serving ends.`)
        return 'gone'
      }
      ctx.log('info', `Reconnected to ${host} after ${((Date.now() - since) / 1000).toFixed(1)} s: ${name} is served again${again.resumed ? '; it had paused on a read of the backup and was resumed' : ''}.`)
      ctx.progress({ phase: 'running', bytesDone: bytes(), vm: name, detail: name })
      return 'served'
    } catch (err) {
      if (stop.aborted) return 'stopped'
      ctx.log('warn', `Reconnecting to ${host} failed (try ${attempt}): ${err instanceof Error ? err.message : String(err)}. Trying again in ${delay / 1000} s; ${name} waits paused, nothing it wrote is lost.`)
      if (!(await pause(delay, stop))) return 'stopped'
      delay = Math.min(delay * 2, RECONNECT_LONGEST_MS)
    }
  }
}

/** One look at the run: the VM's state now (to compare with the next look), or how serving ends. */
async function look(run: InstantRunCapability, name: string, bytes: () => number, ctx: JobContext, signal: AbortSignal, lastState: string): Promise<string | { end: PointRunResultDto['outcome'] }> {
  const info = (await run.list(signal).catch(() => undefined))?.find((r) => r.name === name)
  if (info === undefined) {
    // A failed listing is not proof of anything: only a listing without the VM is.
    const again = await run.list(signal).catch(() => undefined)
    if (again !== undefined && !again.some((r) => r.name === name)) {
      ctx.log('info', `${name} was discarded elsewhere; serving ends.`)
      return { end: 'discarded-elsewhere' }
    }
    return lastState
  }
  if (info.permanent) {
    ctx.log('info', `${name} was made permanent: it runs on host storage and no longer needs Lifeboat.`)
    return { end: 'permanent' }
  }
  if (info.stalled) {
    ctx.log('warn', `${name} paused on an I/O error reading the backup; it is served, so it is resumed.`)
    await run.unstall(name, signal).catch((err: unknown) => {
      if (!signal.aborted) ctx.log('warn', `${name} could not be resumed: ${err instanceof Error ? err.message : String(err)}`)
    })
    return lastState
  }
  if (info.state !== lastState && lastState !== '' && info.state === 'paused') ctx.log('warn', `${name} is paused (an I/O error while reading the backup, or paused by the admin).`)
  ctx.progress({ phase: 'running', bytesDone: bytes(), vm: name, detail: name })
  return info.state
}

/** Make permanent as a job: the pull's progress (bytes, rate, ETA) is the job's. */
export function runPermanentJob(deps: HostAccessDeps, record: SavedHost, name: string): JobSpec<InstantRunDto> {
  return {
    kind: 'runs.makePermanent',
    title: `Make ${name} on ${record.name} permanent`,
    hostId: record.id,
    retry: retryOf('runs.makePermanent', { host: record.id, name }),
    run: async (ctx) => {
      const adapter = await connectHost(deps, record, ctx.signal)
      try {
        const run = requireInstantRun(adapter, record, 'POINT')
        const info = await run.makePermanent(name, (bytesDone, bytesTotal, detail) => ctx.progress({ phase: 'copy', bytesDone, bytesTotal, detail }), ctx.signal)
        ctx.log('info', `${name} runs on host storage now (${info.disks.map((d) => d.overlay).join(', ')}); it no longer needs Lifeboat.`)
        return toRunDto(info)
      } finally {
        await adapter.close().catch(() => undefined)
      }
    },
  }
}
