import path from 'node:path'
import type { JobRunner } from '../jobs/job-runner'
import { retryOf } from '../jobs/retry'
import type { Repositories, RepositoryRef } from '../repository-access/repositories'
import { CHUNK_SIZE } from '../repository/format'
import { parseNbdAddress, startNbdServer, type NbdAddress } from '../disks/nbd/nbd-server'
import { servedFromChunks, type ServedDisk } from '../disks/nbd/served-disk'
import { openWriteOverlay, OverlayError } from '../disks/nbd/write-overlay'
import { ApiError } from './contract-errors'
import type { Handler } from './handler-types'

/** Decoded chunks a served disk keeps in memory: 32 × 4 MiB = 128 MiB at most (stated in `points serve --help`). */
export const SERVE_CACHE_CHUNKS = 32
/** Chunks fetched from the repository at once for one request. */
const SERVE_PARALLEL_READS = 4

export interface ServeHandlerDeps {
  readonly jobs: JobRunner
  readonly repositories: Repositories
}

export function serveHandlers(deps: ServeHandlerDeps) {
  const serve: Handler<'points.serve'> = (input) => {
    const repoRef: RepositoryRef = input.repo !== undefined ? { location: input.repo } : {}
    deps.repositories.locate(repoRef)
    let address: NbdAddress
    try {
      address = parseNbdAddress(input.address)
    } catch (err) {
      throw new ApiError('INVALID_INPUT', err instanceof Error ? err.message : String(err), { field: 'address' })
    }
    const overlay = input.writableOverlay
    if (overlay !== undefined && !path.isAbsolute(overlay)) throw new ApiError('INVALID_INPUT', 'Give the write overlay as an absolute path.', { field: 'writableOverlay' })
    const job = deps.jobs.start({
      kind: 'points.serve',
      retry: retryOf('points.serve', input),
      title: `Serve ${input.disk} of ${input.pointId} over NBD`,
      run: async (ctx) => {
        const repo = await deps.repositories.open(repoRef, ctx.signal)
        try {
          const source = await repo.openDisk(input.pointId, input.disk, { cacheChunks: SERVE_CACHE_CHUNKS, parallelReads: SERVE_PARALLEL_READS, signal: ctx.signal })
          let disk: ServedDisk = servedFromChunks(source, source.chunkList, CHUNK_SIZE)
          try {
            if (overlay !== undefined) {
              try {
                disk = await openWriteOverlay(overlay, disk, `${input.pointId}/${input.disk}`)
              } catch (err) {
                if (err instanceof OverlayError) throw new ApiError('INVALID_INPUT', err.message, { field: 'writableOverlay' })
                throw err
              }
            }
            let served = 0
            let uri = ''
            const server = await startNbdServer(address, {
              disk,
              exportName: input.disk,
              description: `disk ${input.disk} of Lifeboat restore point ${input.pointId}${overlay === undefined ? ' (read-only)' : ''}`,
              onServed: (n) => {
                served += n
                ctx.progress({ phase: 'serving', bytesDone: served, detail: uri })
              },
              log: (m) => ctx.log('warn', m),
            })
            uri = server.uri
            try {
              ctx.log('info', `Serving ${disk.label} at ${uri}${overlay === undefined ? ', read-only' : `; writes go to ${overlay}`}.`)
              ctx.progress({ phase: 'serving', bytesDone: 0, detail: uri })
              await new Promise<void>((resolve) => {
                if (ctx.signal.aborted) resolve()
                else ctx.signal.addEventListener('abort', () => resolve(), { once: true })
              })
            } finally {
              await server.close()
              ctx.log('info', `Stopped serving ${uri} after ${served} bytes; the socket is gone${overlay === undefined ? '' : ` and ${overlay} holds the writes`}.`)
            }
            return { uri, bytesServed: served }
          } finally {
            await disk.close()
          }
        } finally {
          await repo.close()
        }
      },
    })
    return Promise.resolve({ jobId: job.id })
  }
  return { 'points.serve': serve }
}
