import type { JobDto } from '../api/contract-jobs'
import type { InstantRunDto, PointRunResultDto } from '../api/contract-run'
import { toJobDetailDto } from '../jobs/job-record'
import { RUN_CACHE_CHUNKS } from '../jobs/run-job'
import { call } from './cli-call'
import { EXIT_FAILED, EXIT_OK, table, UsageError, type CliIo } from './cli-io'
import { str, type Command, type CommandContext } from './command'
import { followJob } from './commands-backup'
import { repoArg, resolvePoint } from './commands-repository'
import { watchJob } from './wait-for-job'


function requireHost(ctx: CommandContext): string {
  const host = str(ctx, 'host')
  if (host === undefined) throw new UsageError('--host is required: the saved KVM/libvirt host the VM runs on.')
  return host
}

function printRun(io: CliIo, r: InstantRunDto): void {
  io.out(`${r.name}: ${r.permanent ? 'permanent (no longer needs Lifeboat)' : r.served ? `${r.state}, served by Lifeboat` : `${r.state}, NOT served (its Lifeboat stopped): resume it with lifeboat points run ${r.pointId} --host H --resume ${r.name}, or discard it`}`)
}

export const pointsRunCommands: Command[] = [
  {
    path: ['points', 'run'],
    usage: 'lifeboat points run POINT --host H [--as NAME] [--network none|original] [--resume NAME] [--repo LOCATION] [--json]',
    summary: `Instant recovery on a KVM/libvirt host: define and start a VM (default name <original>-from-backup) whose disks are the restore point, served by this process through the SSH connection, with a qcow2 overlay on the host for its writes (the repository never changes). It runs in seconds whatever the disk size. Stays in the foreground serving while the VM needs it: it exits by itself once the VM was made permanent (lifeboat runs make-permanent NAME --host H, from another terminal or script) or discarded elsewhere. Ctrl+C / SIGTERM asks nothing: it STOPS AND DISCARDS the VM and everything it wrote. If this process or its connection dies, the VM pauses on its next read of the backup; --resume NAME serves it again and resumes it. --network none (default) leaves every network interface out; original keeps them (with new MAC addresses). Memory: at most ${RUN_CACHE_CHUNKS} decoded 4 MiB chunks per disk. XenServer and Hyper-V hosts say why not (yet) and name the full restore.`,
    options: { host: { type: 'string' }, as: { type: 'string' }, network: { type: 'string' }, resume: { type: 'string' }, repo: { type: 'string' } },
    positionals: { min: 1, max: 1 },
    async run(ctx) {
      const host = requireHost(ctx)
      const network = str(ctx, 'network') ?? 'none'
      if (network !== 'none' && network !== 'original') throw new UsageError('--network takes none or original.')
      const name = str(ctx, 'as')
      const resume = str(ctx, 'resume')
      if (name !== undefined && resume !== undefined) throw new UsageError('--as names a new VM; --resume serves an existing one again: give one of them.')
      const point = await resolvePoint(ctx, ctx.positionals[0] ?? '')
      const engine = await ctx.engine()
      const { jobId } = await call(
        engine.handlers,
        'points.run',
        { ...repoArg(ctx), point: point.id, host, network, ...(name !== undefined ? { name } : {}), ...(resume !== undefined ? { resume } : {}) },
        ctx.signal,
      )
      let announced = ''
      let phase = ''
      const announce = (job: JobDto) => {
        // Once it runs: say when the connection is lost and when it serves again (the job's own log has each try).
        if (announced !== '' && job.progress.phase !== phase && !ctx.io.json) {
          if (job.progress.phase === 'reconnecting') ctx.io.err(`The SSH connection to ${host} was lost; ${announced} pauses on its next read of the backup and waits (nothing it wrote is lost); reconnecting…`)
          else if (phase === 'reconnecting' && job.progress.phase === 'running') ctx.io.err(`Reconnected to ${host}: ${announced} is served again.`)
        }
        phase = job.progress.phase
        const vm = job.progress.phase === 'running' ? job.progress.detail : undefined
        if (announced !== '' || vm === undefined || vm === '') return
        announced = vm
        if (ctx.io.json) ctx.io.out(JSON.stringify({ running: vm, pointId: point.id, host, jobId }))
        else {
          ctx.io.out(vm)
          ctx.io.err(`${vm} is running from restore point ${point.id} on ${host}. It needs this process: keep it running until the VM is made permanent (lifeboat runs make-permanent ${vm} --host ${host}). Ctrl+C stops and discards the VM.`)
        }
      }
      const job = await watchJob(engine, jobId, ctx.signal, announce)
      if (job.state === 'cancelled' && ctx.signal.aborted && job.leftBehind.length === 0) {
        if (!ctx.io.json) ctx.io.err('Stopped: the VM was turned off and discarded; nothing was left on the host.')
        return EXIT_OK
      }
      if (job.state === 'succeeded') {
        const result = toJobDetailDto(await engine.jobs.get(jobId)).result as PointRunResultDto
        if (ctx.io.json) ctx.io.out(JSON.stringify(result))
        else ctx.io.err(result.outcome === 'permanent' ? `${result.name} was made permanent: it runs on host storage; Lifeboat no longer serves it.` : `${result.name} was discarded elsewhere; serving ended.`)
        return EXIT_OK
      }
      if (ctx.io.json) ctx.io.out(JSON.stringify({ error: job.error ?? { code: 'CANCELLED', message: 'The run was stopped from elsewhere.', params: {} }, leftBehind: job.leftBehind }, null, 2))
      ctx.io.err(`lifeboat: ${job.error?.message ?? `the run ${job.state === 'cancelled' ? 'was stopped from elsewhere' : 'ended'}`}`)
      for (const l of job.leftBehind) ctx.io.err(`  left behind: ${l}`)
      return EXIT_FAILED
    },
  },
  {
    path: ['runs', 'list'],
    usage: 'lifeboat runs list --host H [--json]',
    summary: 'The VMs on a KVM/libvirt host that run (or ran) from a restore point: running from the backup and served, waiting for --resume (their Lifeboat stopped), or permanent.',
    options: { host: { type: 'string' } },
    async run(ctx) {
      const engine = await ctx.engine()
      const runs = await call(engine.handlers, 'runs.list', { host: requireHost(ctx) }, ctx.signal)
      if (ctx.io.json) ctx.io.out(JSON.stringify(runs, null, 2))
      else if (runs.length === 0) ctx.io.out('No VM runs from a restore point there.')
      else ctx.io.out(table(runs.map((r) => [r.name, r.state, r.permanent ? 'permanent' : r.served ? 'served' : 'NOT served', r.pointId]), ['VM', 'STATE', 'LIFEBOAT', 'POINT']))
      return EXIT_OK
    },
  },
  {
    path: ['runs', 'make-permanent'],
    usage: 'lifeboat runs make-permanent NAME --host H [--json]',
    summary: 'Copy the disks of a VM running from a restore point to host storage while it runs (libvirt block pull into its overlay; progress with rate and ETA), then cut it loose: it no longer needs Lifeboat, and its `points run` exits by itself.',
    options: { host: { type: 'string' } },
    positionals: { min: 1, max: 1 },
    async run(ctx) {
      const engine = await ctx.engine()
      const { jobId } = await call(engine.handlers, 'runs.makePermanent', { host: requireHost(ctx), name: ctx.positionals[0] ?? '' }, ctx.signal)
      return await followJob(ctx, jobId, (result, io) => {
        const r = result as InstantRunDto
        if (io.json) io.out(JSON.stringify(r, null, 2))
        else printRun(io, r)
      })
    },
  },
  {
    path: ['runs', 'discard'],
    usage: 'lifeboat runs discard NAME --host H [--json]',
    summary: 'Stop and discard a VM run from a restore point: turned off and undefined, its overlays (everything it wrote), sockets and log removed. The `points run` serving it ends by itself ("discarded elsewhere"), also while it reconnects after a lost connection. Refused for a VM Lifeboat did not run from a backup, and for one made permanent.',
    options: { host: { type: 'string' } },
    positionals: { min: 1, max: 1 },
    async run(ctx) {
      const engine = await ctx.engine()
      const r = await call(engine.handlers, 'runs.discard', { host: requireHost(ctx), name: ctx.positionals[0] ?? '' }, ctx.signal)
      if (ctx.io.json) ctx.io.out(JSON.stringify(r))
      else if (r.leftBehind.length === 0) ctx.io.out(`${ctx.positionals[0] ?? ''} was discarded; nothing of it is left on the host.`)
      for (const l of r.leftBehind) ctx.io.err(`  left behind: ${l}`)
      return r.leftBehind.length === 0 ? EXIT_OK : EXIT_FAILED
    },
  },
]
