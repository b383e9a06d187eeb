import { Worker } from 'node:worker_threads'
import { createRequire } from 'node:module'
import { availableParallelism } from 'node:os'
import { pathToFileURL } from 'node:url'
import { ChunkOps, type CodecSettings } from '../codec/chunk-ops.js'
import { RepositoryError } from '../errors.js'
import { MAX_CHUNK_OBJECT_BYTES } from '../format.js'
import type { KnownTable } from './known-table.js'
import type { WorkerInit, WorkerRequest, WorkerResponse } from './protocol.js'

/** Hashing, sealing and opening of chunks, either spread over worker threads or done inline. */
export interface ChunkCodec {
  /** Hashes a chunk; gives the (possibly moved) buffer back with its id, null for all zeros. */
  hash(data: Buffer): Promise<{ id: string | null; data: Buffer }>
  /** Compresses and encrypts a chunk into its stored form. `data` is consumed (its memory may move). */
  seal(data: Buffer, id: string): Promise<Buffer>
  /**
   * One backup step in one round trip: zero check and id, then the sealed object unless `known` has the id.
   * `data` is consumed. Result: id null = all zeros; no `sealed` = already stored.
   */
  ingest(data: Buffer, known: KnownTable): Promise<IngestResult>
  /**
   * Opens a stored chunk and proves its content matches `id`; throws CORRUPT_CHUNK otherwise. `object` is consumed:
   * moved to a worker or decrypted in place, and the result may be a view of its memory.
   */
  open(object: Buffer, id: string, expectedLength: number): Promise<Buffer>
  /**
   * Memory to read a stored chunk into (MAX_CHUNK_OBJECT_BYTES), recycled from earlier opens: a restore reads
   * thousands of chunks, and a fresh 4 MiB buffer for each (and another for its decompressed bytes) is external
   * memory V8 answers with a full garbage collection every few dozen chunks. Undefined when the codec does not
   * recycle (inline). Give it to open() (or back to recycle() when unused).
   */
  objectBuffer(): Buffer | undefined
  /**
   * Hands a chunk returned by open() (or a buffer from objectBuffer) back for reuse: all of the memory it lies in.
   * Only for a caller that holds no other reference to it, and never a chunk that is cached or shared: its memory
   * will hold another chunk next. Buffers the codec did not hand out are ignored.
   */
  recycle(buffer: Buffer): void
  /** Number of parallel lanes, for callers that size their queues. */
  readonly parallelism: number
  /**
   * Starts the worker threads now rather than with the first chunk: a caller about to process chunks (a backup)
   * lets their start-up (~50 ms each, loading the code) overlap its own preparation. Idempotent.
   */
  warm(): void
  close(): Promise<void>
}

export interface IngestResult {
  /** null for an all-zero chunk. */
  readonly id: string | null
  /** The stored form in parts (header, body, tag) when the chunk is new; absent when it is zero or known. */
  readonly sealed?: readonly Buffer[]
  /** The memory the chunk came in (the body lives in it), free for reuse once `sealed` has been written. */
  readonly memory?: ArrayBuffer | undefined
}

export interface CodecOptions extends CodecSettings {
  /** Worker threads; 0 runs everything on the calling thread (handy in tiny tools and some tests). */
  readonly workers?: number
  /**
   * Nice value of the worker threads on Linux (see chunk-worker.ts): default 10, so hashing yields to the transfer
   * feeding it; LIFEBOAT_WORKER_NICE overrides it (0 = normal priority).
   */
  readonly niceness?: number
}

function defaultNiceness(): number {
  const env = Number(process.env.LIFEBOAT_WORKER_NICE)
  return Number.isInteger(env) && env >= 0 && env <= 19 ? env : 10
}

export function createChunkCodec(options: CodecOptions): ChunkCodec {
  const count = options.workers ?? availableParallelism()
  return count <= 0 ? new InlineCodec(options) : new WorkerPoolCodec(options, count, options.niceness ?? defaultNiceness())
}

class InlineCodec implements ChunkCodec {
  readonly parallelism = 1
  private readonly ops: ChunkOps
  constructor(settings: CodecSettings) {
    this.ops = new ChunkOps(settings)
  }
  async hash(data: Buffer): Promise<{ id: string | null; data: Buffer }> {
    await Promise.resolve()
    return { id: this.ops.hash(data).id, data }
  }
  async seal(data: Buffer, id: string): Promise<Buffer> {
    await Promise.resolve()
    return this.ops.seal(data, id)
  }
  async open(object: Buffer, id: string, expectedLength: number): Promise<Buffer> {
    await Promise.resolve()
    return this.ops.open(object, id, expectedLength)
  }
  objectBuffer(): undefined {
    return undefined
  }
  recycle(): void {
    // Nothing is recycled inline.
  }
  async ingest(data: Buffer, known: KnownTable): Promise<IngestResult> {
    await Promise.resolve()
    const memory = data.buffer instanceof ArrayBuffer ? data.buffer : undefined
    const { id, sealed } = this.ops.ingest(data, known)
    return sealed === undefined ? { id, memory } : { id, sealed: [sealed.head, sealed.body, sealed.tail], memory }
  }
  warm(): void {
    // No threads to start.
  }
  async close(): Promise<void> {
    // Nothing to release.
  }
}

/**
 * Where the worker's code is. Bundled (dist/node/*.js, one flat folder) it is the sibling entry
 * repo-chunk-worker.js; from TypeScript source (vitest, tsx) it is chunk-worker.ts, started through a tiny
 * bootstrap that registers tsx inside the worker (a worker's own `--import tsx` does not apply to its entry on
 * Node 20).
 */
function workerTarget(): URL {
  const here = import.meta.url
  if (!/\.[cm]?ts($|\?)/.test(here)) return new URL('./repo-chunk-worker.js', here)
  const tsxApi = createRequire(here).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')
  const entry = new URL('./chunk-worker.ts', here).href
  const code = `import { register } from ${JSON.stringify(pathToFileURL(tsxApi).href)}; register(); await import(${JSON.stringify(entry)});`
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`)
}

interface Pending {
  readonly resolve: (response: WorkerResponse & { ok: true }) => void
  readonly reject: (error: Error) => void
}

interface Lane {
  readonly worker: Worker
  inFlight: number
}

/** Two requests queued per worker keep each one busy while the main thread handles the previous answer. */
const PER_WORKER = 2

/** Recycled chunk-sized buffers kept (64 MiB at most); more than a restore has in flight is simply dropped. */
const MAX_SPARES = 16
/** Spares are let go after this long without a chunk read: an open repository that sits idle holds no 64 MiB. */
const SPARES_IDLE_MS = 10_000

class WorkerPoolCodec implements ChunkCodec {
  readonly parallelism: number
  private readonly lanes: Lane[] = []
  private readonly pending = new Map<number, Pending>()
  private readonly waiting: { request: WorkerRequest; transfer: ArrayBuffer[]; pending: Pending }[] = []
  private seq = 0
  private broken: Error | undefined
  private closed = false

  private readonly init: WorkerInit
  private readonly count: number
  /** Chunk-sized memory free for the next object read or decompression (each at least MAX_CHUNK_OBJECT_BYTES). */
  private readonly spares: ArrayBuffer[] = []
  /**
   * Memory this codec owns outright: made by it, or transferred back from a worker (a transferred ArrayBuffer belongs
   * to its receiver alone). Only such memory is transferred whole or recycled — never a Buffer that shares Node's
   * small-allocation pool with others.
   */
  private readonly owned = new WeakSet<ArrayBuffer>()
  private sparesTimer: NodeJS.Timeout | undefined

  /**
   * The workers start with the first chunk to process, not with the repository: listing points, reading its info or
   * planning a prune opens a repository and never touches a chunk, and starting (and loading the code of) a thread
   * per core cost such a command more than its work.
   */
  constructor(settings: CodecSettings, count: number, niceness: number) {
    this.parallelism = count
    this.count = count
    this.init = { dataKey: settings.dataKey, idKey: settings.idKey, compressionLevel: settings.compressionLevel, niceness }
  }

  private startWorkers(): void {
    const target = workerTarget()
    for (let i = 0; i < this.count; i++) {
      const worker = new Worker(target, { workerData: this.init, name: `lifeboat-chunk-${i}` })
      const lane: Lane = { worker, inFlight: 0 }
      worker.on('message', (response: WorkerResponse) => this.onMessage(lane, response))
      worker.on('error', (error) => this.fail(error))
      worker.on('exit', (code) => {
        if (!this.closed) this.fail(new Error(`a chunk worker stopped unexpectedly (exit code ${code})`))
      })
      worker.unref()
      this.lanes.push(lane)
    }
  }

  async hash(data: Buffer): Promise<{ id: string | null; data: Buffer }> {
    const ab = transferable(data)
    const response = await this.submit({ op: 'hash', seq: 0, data: ab, length: data.length }, [ab])
    return { id: response.id ?? null, data: Buffer.from(response.data ?? new ArrayBuffer(0), 0, response.length ?? 0) }
  }

  async seal(data: Buffer, id: string): Promise<Buffer> {
    const ab = transferable(data)
    const response = await this.submit({ op: 'seal', seq: 0, data: ab, length: data.length, id }, [ab])
    return Buffer.from(response.data ?? new ArrayBuffer(0), 0, response.length ?? 0)
  }

  async ingest(data: Buffer, known: KnownTable): Promise<IngestResult> {
    const ab = transferable(data)
    const response = await this.submit({ op: 'ingest', seq: 0, data: ab, length: data.length, known: known.handle }, [ab])
    const id = response.id ?? null
    if (response.data === undefined) return { id }
    if (response.head === undefined) return { id, memory: response.data }
    const part = (u: Uint8Array | undefined): Buffer => (u === undefined ? Buffer.alloc(0) : Buffer.from(u.buffer, u.byteOffset, u.byteLength))
    return { id, sealed: [part(response.head), Buffer.from(response.data, 0, response.length ?? 0), part(response.tail)], memory: response.data }
  }

  async open(object: Buffer, id: string, expectedLength: number): Promise<Buffer> {
    const ab = object.byteOffset === 0 && this.owned.has(object.buffer as ArrayBuffer) ? (object.buffer as ArrayBuffer) : transferable(object)
    const into = expectedLength <= MAX_CHUNK_OBJECT_BYTES ? this.takeSpare() : undefined
    const response = await this.submit({ op: 'open', seq: 0, data: ab, length: object.length, id, expectedLength, ...(into !== undefined ? { into } : {}) }, into === undefined ? [ab] : [ab, into])
    for (const spare of response.spares ?? []) this.keepSpare(spare)
    const data = response.data ?? new ArrayBuffer(0)
    this.owned.add(data)
    return Buffer.from(data, response.offset ?? 0, response.length ?? 0)
  }

  objectBuffer(): Buffer {
    return Buffer.from(this.takeSpare())
  }

  recycle(buffer: Buffer): void {
    const ab = buffer.buffer as ArrayBuffer
    // A view is taken back whole: a chunk stored uncompressed comes out of open() as a view of its object's memory.
    if (this.owned.has(ab) && !this.spares.includes(ab)) this.keepSpare(ab)
  }

  private takeSpare(): ArrayBuffer {
    const spare = this.spares.pop()
    if (spare !== undefined) return spare
    // Uninitialised (it is always overwritten before use) and an ArrayBuffer of its own, not a pool slice.
    const made = Buffer.allocUnsafeSlow(MAX_CHUNK_OBJECT_BYTES).buffer
    this.owned.add(made)
    return made
  }

  private keepSpare(spare: ArrayBuffer): void {
    this.owned.add(spare)
    if (spare.byteLength < MAX_CHUNK_OBJECT_BYTES || this.spares.length >= MAX_SPARES || this.closed) return
    this.spares.push(spare)
    if (this.sparesTimer === undefined) {
      this.sparesTimer = setTimeout(() => (this.spares.length = 0), SPARES_IDLE_MS)
      this.sparesTimer.unref()
    } else this.sparesTimer.refresh()
  }

  warm(): void {
    if (this.lanes.length === 0 && this.broken === undefined && !this.closed) this.startWorkers()
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.spares.length = 0
    clearTimeout(this.sparesTimer)
    this.fail(new RepositoryError('BACKEND_ERROR', 'The repository was closed while chunks were still being processed.'))
    await Promise.all(this.lanes.map((lane) => lane.worker.terminate()))
  }

  private submit(request: WorkerRequest, transfer: ArrayBuffer[]): Promise<WorkerResponse & { ok: true }> {
    if (this.broken !== undefined) return Promise.reject(this.broken)
    this.warm()
    return new Promise((resolve, reject) => {
      const pending = { resolve, reject }
      const seq = ++this.seq
      this.waiting.push({ request: { ...request, seq }, transfer, pending })
      this.pump()
    })
  }

  private pump(): void {
    while (this.waiting.length > 0) {
      let best: Lane | undefined
      for (const lane of this.lanes) if (lane.inFlight < PER_WORKER && (best === undefined || lane.inFlight < best.inFlight)) best = lane
      if (best === undefined) return
      const next = this.waiting.shift()
      if (next === undefined) return
      this.pending.set(next.request.seq, next.pending)
      if (best.inFlight++ === 0) best.worker.ref()
      best.worker.postMessage(next.request, next.transfer)
    }
  }

  private onMessage(lane: Lane, response: WorkerResponse): void {
    if (--lane.inFlight === 0) lane.worker.unref()
    const pending = this.pending.get(response.seq)
    this.pending.delete(response.seq)
    if (pending !== undefined) {
      if (response.ok) pending.resolve(response)
      else {
        const e = response.error
        pending.reject(e.code === undefined ? new Error(e.message) : new RepositoryError(e.code, e.message, e.params ?? {}))
      }
    }
    this.pump()
  }

  private fail(error: Error): void {
    this.broken ??= error
    for (const p of this.pending.values()) p.reject(this.broken)
    this.pending.clear()
    for (const w of this.waiting.splice(0)) w.pending.reject(this.broken)
  }
}

/** The ArrayBuffer to transfer for `buf`: its own when it owns all of it, else a copy (rare: pooled or sliced). */
function transferable(buf: Buffer): ArrayBuffer {
  if (buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength && buf.buffer instanceof ArrayBuffer) return buf.buffer
  const copy = new ArrayBuffer(buf.length)
  new Uint8Array(copy).set(buf)
  return copy
}
