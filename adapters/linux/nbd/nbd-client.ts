import type { Duplex } from 'node:stream'
import { AdapterError } from '../../host-adapter'
import { ByteQueue } from '../../nbd/byte-queue'
import { CMD_BLOCK_STATUS, CMD_DISC, CMD_READ, go, greet, haggle, OPT_SET_META_CONTEXT, OPT_STRUCTURED_REPLY, nbdRequest, REP_META_CONTEXT, SIMPLE_REPLY_MAGIC, STRUCTURED_REPLY_MAGIC, u32 } from '../../nbd/handshake'

/**
 * A minimal NBD client (fixed newstyle handshake, structured replies, NBD_CMD_READ and NBD_CMD_BLOCK_STATUS) for the
 * exports QEMU serves during a libvirt pull-mode backup. Requests are pipelined and matched to replies by handle.
 * Everything the server sends is checked: magic numbers, lengths, offsets inside the request, bounded messages.
 */
const REPLY_FLAG_DONE = 1
const MAX_READ = 32 * 1024 * 1024

interface Inflight {
  readonly type: 'read' | 'status'
  readonly offset: number
  readonly length: number
  readonly data?: Buffer
  /** For a block status request: the meta context asked about. */
  readonly contextId?: number
  readonly extents: { length: number; flags: number }[]
  error?: string
  resolve(): void
  reject(err: unknown): void
}

export interface NbdExport {
  readonly size: number
  /** Context ids the server assigned, by name. */
  readonly contexts: ReadonlyMap<string, number>
}

export class NbdClient {
  private nextHandle = 1n
  private readonly inflight = new Map<bigint, Inflight>()
  private failure: Error | undefined

  private constructor(
    private readonly stream: Duplex,
    private readonly queue: ByteQueue,
    readonly info: NbdExport,
    private readonly label: string,
  ) {
    void this.readLoop()
  }

  /**
   * Handshake on an open byte stream; `metaContexts` are asked for and required (e.g. "qemu:dirty-bitmap:backup-vda"),
   * `optionalContexts` asked for and used when offered (e.g. "base:allocation").
   */
  static async connect(stream: Duplex, exportName: string, metaContexts: readonly string[], label: string, optionalContexts: readonly string[] = []): Promise<NbdClient> {
    const queue = new ByteQueue(stream)
    const bad = (why: string) => new AdapterError('BAD_RESPONSE', `NBD export ${label}: ${why}`)
    try {
      await greet(queue, stream, bad)
      await haggle(queue, stream, OPT_STRUCTURED_REPLY, Buffer.alloc(0), bad)
      const name = Buffer.from(exportName, 'utf8')
      const contexts = new Map<string, number>()
      const asked = [...metaContexts, ...optionalContexts]
      if (asked.length > 0) {
        const parts: Buffer[] = [u32(name.length), name, u32(asked.length)]
        for (const q of asked) {
          const b = Buffer.from(q, 'utf8')
          parts.push(u32(b.length), b)
        }
        await haggle(queue, stream, OPT_SET_META_CONTEXT, Buffer.concat(parts), bad, (type, payload) => {
          if (type === REP_META_CONTEXT && payload.length >= 4) contexts.set(payload.toString('utf8', 4), payload.readUInt32BE(0))
        })
        for (const q of metaContexts) if (!contexts.has(q)) throw bad(`the server does not offer ${q}`)
      }
      const size = await go(queue, stream, exportName, Number.MAX_SAFE_INTEGER, bad)
      return new NbdClient(stream, queue, { size, contexts }, label)
    } catch (err) {
      stream.destroy()
      if (err instanceof AdapterError) throw err
      throw new AdapterError('CONNECTION_LOST', `NBD export ${label}: ${err instanceof Error ? err.message : String(err)}`)
    }
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    if (length > MAX_READ) {
      const parts: Buffer[] = []
      for (let at = 0; at < length; at += MAX_READ) parts.push(await this.read(offset + at, Math.min(MAX_READ, length - at), signal))
      return Buffer.concat(parts)
    }
    const data = Buffer.alloc(length) // holes are zeros
    await this.request(CMD_READ, offset, length, signal, { type: 'read', data })
    return data
  }

  /** Extents of one meta context from `offset`; the server may describe less than asked (never more). */
  async blockStatus(contextId: number, offset: number, length: number, signal?: AbortSignal): Promise<{ length: number; flags: number }[]> {
    const extents: { length: number; flags: number }[] = []
    await this.request(CMD_BLOCK_STATUS, offset, length, signal, { type: 'status', contextId, extents })
    return extents
  }

  async close(): Promise<void> {
    if (this.failure === undefined) {
      this.failure = new AdapterError('CANCELLED', `NBD export ${this.label} is closed.`)
      this.stream.write(nbdRequest(CMD_DISC, 0n))
    }
    for (const f of this.inflight.values()) f.reject(this.failure)
    this.inflight.clear()
    this.stream.end()
    this.stream.destroy()
    return Promise.resolve()
  }

  private request(type: number, offset: number, length: number, signal: AbortSignal | undefined, what: { type: 'read'; data: Buffer } | { type: 'status'; contextId: number; extents: { length: number; flags: number }[] }): Promise<void> {
    if (this.failure) return Promise.reject(this.failure)
    if (!Number.isSafeInteger(offset) || offset < 0 || length <= 0 || length > 0xffffffff || offset + length > this.info.size) {
      return Promise.reject(new RangeError(`NBD request ${offset}+${length} is outside ${this.label}`))
    }
    signal?.throwIfAborted()
    const handle = this.nextHandle++
    const req = nbdRequest(type, handle, offset, length)
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(new AdapterError('CANCELLED', `Reading ${this.label} was cancelled.`))
      signal?.addEventListener('abort', onAbort, { once: true })
      const entry: Inflight = {
        type: what.type,
        offset,
        length,
        ...(what.type === 'read' ? { data: what.data } : { contextId: what.contextId }),
        extents: what.type === 'status' ? what.extents : [],
        resolve: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort)
          reject(e instanceof Error ? e : new Error(String(e)))
        },
      }
      this.inflight.set(handle, entry)
      this.stream.write(req)
    })
  }

  private async readLoop(): Promise<void> {
    const bad = (why: string) => new AdapterError('BAD_RESPONSE', `NBD export ${this.label}: ${why}`)
    try {
      for (;;) {
        const magicBuf = await this.queue.read(4)
        const magic = magicBuf.readUInt32BE(0)
        if (magic === SIMPLE_REPLY_MAGIC) {
          const rest = await this.queue.read(12)
          const error = rest.readUInt32BE(0)
          const entry = this.take(rest.readBigUInt64BE(4), bad)
          if (error !== 0 || entry.type !== 'read') entry.reject(new AdapterError('COMMAND_FAILED', `NBD export ${this.label} failed a request (error ${error}).`))
          else {
            const data = await this.queue.read(entry.length)
            data.copy(entry.data ?? Buffer.alloc(0))
            entry.resolve()
          }
          continue
        }
        if (magic !== STRUCTURED_REPLY_MAGIC) throw bad('reply out of step')
        const head = await this.queue.read(16)
        const flags = head.readUInt16BE(0)
        const type = head.readUInt16BE(2)
        const handle = head.readBigUInt64BE(4)
        const length = head.readUInt32BE(12)
        const entry = this.inflight.get(handle)
        if (entry === undefined) throw bad('reply to a request nobody made')
        if (length > MAX_READ + 64) throw bad('reply chunk too long')
        const payload = length > 0 ? await this.queue.read(length) : Buffer.alloc(0)
        this.applyChunk(entry, type, payload, bad)
        if ((flags & REPLY_FLAG_DONE) !== 0) {
          this.inflight.delete(handle)
          if (entry.error !== undefined) entry.reject(new AdapterError('COMMAND_FAILED', `NBD export ${this.label}: ${entry.error}`))
          else entry.resolve()
        }
      }
    } catch (err) {
      const e = this.failure ?? (err instanceof AdapterError ? err : new AdapterError('CONNECTION_LOST', `NBD export ${this.label} closed: ${err instanceof Error ? err.message : String(err)}`))
      this.failure = e
      for (const f of this.inflight.values()) f.reject(e)
      this.inflight.clear()
      this.stream.destroy()
    }
  }

  private take(handle: bigint, bad: (why: string) => Error): Inflight {
    const entry = this.inflight.get(handle)
    if (entry === undefined) throw bad('reply to a request nobody made')
    this.inflight.delete(handle)
    return entry
  }

  private applyChunk(entry: Inflight, type: number, payload: Buffer, bad: (why: string) => Error): void {
    switch (type) {
      case 0:
        return
      case 1: {
        if (entry.type !== 'read' || payload.length < 8) throw bad('unexpected data chunk')
        const at = Number(payload.readBigUInt64BE(0)) - entry.offset
        const n = payload.length - 8
        if (at < 0 || at + n > entry.length) throw bad('data chunk outside the request')
        payload.copy(entry.data ?? Buffer.alloc(0), at, 8)
        return
      }
      case 2: {
        if (entry.type !== 'read' || payload.length !== 12) throw bad('unexpected hole chunk')
        const at = Number(payload.readBigUInt64BE(0)) - entry.offset
        const n = payload.readUInt32BE(8)
        if (at < 0 || at + n > entry.length) throw bad('hole chunk outside the request')
        entry.data?.fill(0, at, at + n)
        return
      }
      case 5: {
        if (entry.type !== 'status' || payload.length < 12 || (payload.length - 4) % 8 !== 0) throw bad('unexpected block status chunk')
        // With several meta contexts negotiated the server answers for each: keep only the one asked about.
        if (payload.readUInt32BE(0) !== entry.contextId) return
        for (let p = 4; p < payload.length; p += 8) {
          const length = payload.readUInt32BE(p)
          if (length === 0 && p + 8 < payload.length) throw bad('empty extent')
          entry.extents.push({ length, flags: payload.readUInt32BE(p + 4) })
          if (entry.extents.length > 1_000_000) throw bad('too many extents')
        }
        return
      }
      default:
        if (type >= 0x8000) {
          const code = payload.length >= 4 ? payload.readUInt32BE(0) : 0
          const msgLen = payload.length >= 6 ? payload.readUInt16BE(4) : 0
          entry.error = `request failed (error ${code}${msgLen > 0 ? `: ${payload.toString('utf8', 6, 6 + Math.min(msgLen, 200))}` : ''})`
          return
        }
        throw bad(`unknown reply chunk type ${type}`)
    }
  }
}
