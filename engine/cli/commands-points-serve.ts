import path from 'node:path'
import type { JobDto } from '../api/contract-jobs'
import { SERVE_CACHE_CHUNKS } from '../api/handlers-serve'
import { call } from './cli-call'
import { EXIT_FAILED, EXIT_OK, UsageError } from './cli-io'
import { str, type Command } from './command'
import { repoArg, resolvePoint } from './commands-repository'
import { watchJob } from './wait-for-job'


export const pointsServeCommand: Command = {
  path: ['points', 'serve'],
  usage: 'lifeboat points serve POINT [--disk N] --nbd unix:PATH|127.0.0.1:PORT [--writable-overlay FILE] [--repo LOCATION] [--json]',
  summary: `Serve one disk of a restore point over NBD until Ctrl+C / SIGTERM, for qemu-img, qemu-nbd clients, guestfish or a VM. Read-only unless --writable-overlay FILE is given (writes go to FILE, created when missing; the repository never changes). Prints the export's URI when clients can connect; holes are reported (NBD block status). Memory: at most ${SERVE_CACHE_CHUNKS} decoded 4 MiB chunks (${SERVE_CACHE_CHUNKS * 4} MiB) are cached, 4 fetched at once. Loopback and unix sockets only: NBD has no login.`,
  options: { disk: { type: 'string' }, nbd: { type: 'string' }, 'writable-overlay': { type: 'string' }, repo: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const address = str(ctx, 'nbd')
    if (address === undefined) throw new UsageError('--nbd unix:PATH or --nbd 127.0.0.1:PORT is required: where clients connect.')
    const overlay = str(ctx, 'writable-overlay')
    const point = await resolvePoint(ctx, ctx.positionals[0] ?? '')
    const diskArg = str(ctx, 'disk') ?? '0'
    const disk = /^\d+$/.test(diskArg) ? point.disks[Number(diskArg)]?.name : point.disks.find((d) => d.name === diskArg)?.name
    if (disk === undefined) throw new UsageError(`Restore point ${point.id} has no disk "${diskArg}" (it has ${point.disks.map((d, i) => `${i}:${d.name}`).join(', ')}).`)
    const engine = await ctx.engine()
    const resolvedAddress = address.startsWith('unix:') ? `unix:${path.resolve(address.slice(5))}` : address
    const { jobId } = await call(
      engine.handlers,
      'points.serve',
      { ...repoArg(ctx), pointId: point.id, disk, address: resolvedAddress, ...(overlay !== undefined ? { writableOverlay: path.resolve(overlay) } : {}) },
      ctx.signal,
    )
    let announced = false
    const announce = (job: JobDto) => {
      const uri = job.progress.phase === 'serving' ? job.progress.detail : undefined
      if (announced || uri === undefined || uri === '') return
      announced = true
      if (ctx.io.json) ctx.io.out(JSON.stringify({ uri, pointId: point.id, disk, readOnly: overlay === undefined }))
      else {
        ctx.io.out(uri)
        ctx.io.err(`Serving disk ${disk} of ${point.id}${overlay === undefined ? ' read-only' : `, writes into ${path.resolve(overlay)}`}. Ctrl+C stops.`)
      }
    }
    const job = await watchJob(engine, jobId, ctx.signal, announce)
    // Stopping is how serving ends: a cancel that we asked for, with nothing left behind, is a clean exit.
    if (job.state === 'cancelled' && ctx.signal.aborted && job.leftBehind.length === 0) {
      if (!ctx.io.json) ctx.io.err('Stopped serving; nothing was left behind.')
      return EXIT_OK
    }
    if (ctx.io.json) ctx.io.out(JSON.stringify({ error: job.error ?? { code: 'CANCELLED', message: 'Serving was stopped from elsewhere.', params: {} }, leftBehind: job.leftBehind }, null, 2))
    ctx.io.err(`lifeboat: ${job.error?.message ?? `serving ${job.state === 'cancelled' ? 'was stopped from elsewhere' : 'ended'}`}`)
    for (const l of job.leftBehind) ctx.io.err(`  left behind: ${l}`)
    return EXIT_FAILED
  },
}
