/**
 * Worker-thread entry: hashes, seals and opens chunks for the codec pool (codec-pool.ts). Bundled as
 * dist/node/repo-chunk-worker.js; run from source through tsx in development and tests.
 */
import { readlinkSync } from 'node:fs'
import { setPriority } from 'node:os'
import { parentPort, workerData } from 'node:worker_threads'
import { ChunkOps } from '../codec/chunk-ops.js'
import { RepositoryError } from '../errors.js'
import { KnownTable, type KnownTableHandle } from './known-table.js'
import type { WorkerInit, WorkerRequest, WorkerResponse } from './protocol.js'

const init = workerData as WorkerInit
const ops = new ChunkOps({
  dataKey: init.dataKey === undefined ? undefined : Buffer.from(init.dataKey),
  idKey: init.idKey === undefined ? undefined : Buffer.from(init.idKey),
  compressionLevel: init.compressionLevel,
})
const port = parentPort
if (port === null) throw new Error('chunk-worker must run in a worker thread')

/**
 * Hashing and compressing are background work: on Linux (where a thread's nice value is its own) this thread yields
 * to the transfer it is fed by (OpenSSH, TLS, the reader thread) and to the desktop, so a busy machine slows the
 * hashing, which has slack, instead of the network stream, which sets the pace. Best effort: ignored where refused.
 * Done at the first backup request, not at start: opening chunks (an export, a restore, browsing) is what the admin
 * waits for, and a niced worker on a busy machine got ~1/10 of a core — an unprivileged thread cannot raise its
 * priority again, so a pool that only reads never lowers it.
 */
let lowered = false
function lowerPriority(niceness: number | undefined): void {
  if (lowered) return
  lowered = true
  if (process.platform !== 'linux' || niceness === undefined || niceness <= 0) return
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop())
    if (Number.isSafeInteger(tid) && tid > 0) setPriority(tid, Math.min(19, niceness))
  } catch {
    // no /proc, or not permitted: run at normal priority
  }
}

/** An ArrayBuffer we may transfer: the Buffer must own all of it, or we copy into one that does. */
function ownBuffer(buf: Buffer): ArrayBuffer {
  if (buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength && buf.buffer instanceof ArrayBuffer) return buf.buffer
  const copy = new ArrayBuffer(buf.length)
  Buffer.from(copy).set(buf)
  return copy
}

let table: { handle: KnownTableHandle; table: KnownTable } | undefined
/** The shared table arrives with every request (cheap: shared memory is not copied); wrap it once per backup. */
function tableFor(handle: KnownTableHandle): KnownTable {
  if (table?.handle.flags !== handle.flags) table = { handle, table: new KnownTable(handle) }
  return table.table
}

port.on('message', (request: WorkerRequest) => {
  let response: WorkerResponse
  const transfer: ArrayBuffer[] = []
  try {
    const input = Buffer.from(request.data, 0, request.length)
    if (request.op !== 'open') lowerPriority(init.niceness)
    if (request.op === 'hash') {
      const { id } = ops.hash(input)
      response = { seq: request.seq, ok: true, id, data: request.data, length: request.length }
      transfer.push(request.data)
    } else if (request.op === 'ingest') {
      const { id, sealed } = ops.ingest(input, tableFor(request.known))
      if (sealed === undefined) {
        // Known or zero: the memory goes back untouched so the main thread can reuse it for the next read.
        response = { seq: request.seq, ok: true, id, data: request.data, length: 0 }
        transfer.push(request.data)
      }
      else {
        // The body was sealed into the request's own memory (offset 0), which goes back as it came.
        response = { seq: request.seq, ok: true, id, data: request.data, length: sealed.body.length, head: sealed.head, tail: sealed.tail }
        transfer.push(request.data)
      }
    } else if (request.op === 'open') {
      const into = request.into === undefined ? undefined : Buffer.from(request.into)
      const out = ops.open(input, request.id, request.expectedLength, into)
      // Every piece of memory that came goes back: the result's, and the rest as spares for the next reads.
      if (out.buffer === request.data) {
        // A stored chunk, decrypted in place: the result is a view of the object's memory.
        response = { seq: request.seq, ok: true, data: request.data, offset: out.byteOffset, length: out.length, spares: request.into === undefined ? [] : [request.into] }
      } else if (request.into !== undefined && out.buffer === request.into) {
        response = { seq: request.seq, ok: true, data: request.into, length: out.length, spares: [request.data] }
      } else {
        response = { seq: request.seq, ok: true, data: ownBuffer(out), length: out.length, spares: request.into === undefined ? [request.data] : [request.data, request.into] }
      }
      transfer.push(...new Set([response.data as ArrayBuffer, ...(response.spares ?? [])]))
    } else {
      const out = ops.seal(input, request.id)
      if (out.buffer === request.data) {
        // Sealed in the request's own memory: it goes back as it came.
        response = { seq: request.seq, ok: true, data: request.data, offset: out.byteOffset, length: out.length }
        transfer.push(request.data)
      } else {
        const ab = ownBuffer(out)
        response = { seq: request.seq, ok: true, data: ab, length: out.length }
        transfer.push(ab)
      }
    }
  } catch (error) {
    const e = error instanceof RepositoryError ? { code: error.code, message: error.message, params: error.params } : { message: String(error) }
    response = { seq: request.seq, ok: false, error: e }
  }
  port.postMessage(response, transfer)
})
