import { connect as netConnect } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { assertReadInBounds } from '../block-source'
import { AdapterError, sameFingerprint, type BlockSource } from '../host-adapter'
import { ByteQueue } from '../nbd/byte-queue'
import { CMD_DISC, CMD_READ, exportName, greet, haggle, nbdRequest, OPT_STARTTLS, SIMPLE_REPLY_MAGIC } from '../nbd/handshake'
import { openTls, pemFingerprint, presented } from './pinned-tls'

/**
 * An NBD client for the servers XenServer/XCP-ng run on networks with the "nbd" purpose (VDI.get_nbd_info): fixed
 * newstyle, NBD_OPT_STARTTLS, then NBD_OPT_EXPORT_NAME and pipelined NBD_CMD_READ with simple replies. The TLS
 * certificate must be the one XAPI handed out with the export (over the pinned session); everything the server
 * sends is checked. xapi-nbd (xapi-project/nbd lib/server.ml) knows no NBD_OPT_GO and refuses reads that do not
 * start and end on a 512-byte sector, so reads are widened to whole sectors here (as XO's @vates/nbd-client does
 * with EXPORT_NAME).
 */
const MAX_REQUEST = 4 * 1024 * 1024
const SECTOR = 512
const MAX_SIZE = 2 ** 50

export interface NbdTarget {
  readonly address: string
  readonly port: number
  readonly exportName: string
  /** PEM of the certificate XAPI says the NBD server presents. */
  readonly cert: string
  readonly label: string
  readonly timeoutMs?: number
}

interface Pending {
  readonly length: number
  resolve(data: Buffer): void
  reject(err: Error): void
}

export class XapiNbdClient {
  private handle = 1n
  private readonly pending = new Map<bigint, Pending>()
  private failure: AdapterError | undefined
  private closed = false

  private constructor(
    private readonly socket: TLSSocket,
    private readonly reader: ByteQueue,
    readonly size: number,
    private readonly label: string,
  ) {
    void this.loop()
  }

  static async connect(target: NbdTarget, signal?: AbortSignal): Promise<XapiNbdClient> {
    const expected = pemFingerprint(target.cert)
    if (expected === undefined) throw new AdapterError('BAD_RESPONSE', `XAPI handed out an unreadable certificate for the NBD server of ${target.label}.`)
    const bad = (why: string) => new AdapterError('BAD_RESPONSE', `NBD server ${target.address}:${target.port} (${target.label}): ${why}`)
    const raw = netConnect({ host: target.address, port: target.port })
    const timer = setTimeout(() => raw.destroy(new Error('timed out')), target.timeoutMs ?? 15_000)
    const onAbort = () => raw.destroy(new Error('cancelled'))
    signal?.addEventListener('abort', onAbort, { once: true })
    let tls: TLSSocket | undefined
    try {
      await new Promise<void>((resolve, reject) => {
        raw.once('connect', resolve)
        raw.once('error', reject)
      })
      const plain = new ByteQueue(raw)
      const greeting = await greet(plain, raw, bad)
      await haggle(plain, raw, OPT_STARTTLS, Buffer.alloc(0), bad)
      if (plain.detach() !== 0) throw bad('the server sent data before the TLS handshake')
      tls = openTls(target.address, target.port, undefined, raw)
      const secure = tls
      await new Promise<void>((resolve, reject) => {
        secure.once('secureConnect', resolve)
        secure.once('error', reject)
      })
      const cert = presented(secure)
      if (cert === undefined || !sameFingerprint(cert.fingerprint, expected)) {
        throw new AdapterError('HOST_KEY_MISMATCH', `The NBD server ${target.address}:${target.port} presented ${cert?.fingerprint ?? 'no certificate'}, not the certificate the pool master reported (${expected}). Lifeboat did not read from it.`, { address: target.address, port: target.port, fingerprint: cert?.fingerprint ?? null, expected })
      }
      const reader = new ByteQueue(secure)
      const size = await exportName(reader, secure, target.exportName, greeting, MAX_SIZE, (why) => new AdapterError('COMMAND_FAILED', `NBD server ${target.address}:${target.port} did not open the export of ${target.label}: ${why}`))
      clearTimeout(timer)
      return new XapiNbdClient(secure, reader, size, target.label)
    } catch (err) {
      tls?.destroy()
      raw.destroy()
      if (signal?.aborted === true) throw new AdapterError('CANCELLED', `Opening the NBD export of ${target.label} was cancelled.`)
      if (err instanceof AdapterError) throw err
      throw new AdapterError('CONNECTION_LOST', `NBD server ${target.address}:${target.port} (${target.label}): ${err instanceof Error ? err.message : String(err)}`, {}, { cause: err })
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
  }

  private async loop(): Promise<void> {
    try {
      for (;;) {
        const head = await this.reader.read(16)
        if (head.readUInt32BE(0) !== SIMPLE_REPLY_MAGIC) throw new AdapterError('BAD_RESPONSE', `NBD export ${this.label}: unexpected reply magic.`)
        const error = head.readUInt32BE(4)
        const handle = head.readBigUInt64BE(8)
        const entry = this.pending.get(handle)
        if (entry === undefined) throw new AdapterError('BAD_RESPONSE', `NBD export ${this.label}: a reply to a request that was never sent.`)
        this.pending.delete(handle)
        if (error !== 0) {
          entry.reject(new AdapterError('COMMAND_FAILED', `NBD export ${this.label} failed a read (error ${error}).`))
          continue
        }
        // The reply's own memory when the queue had to gather it (a fresh buffer: handed on, and to a worker, as it
        // is); a copy only when it is a view into a larger chunk of the stream, which must not be kept alive or shared.
        const data = await this.reader.read(entry.length)
        entry.resolve(data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : Buffer.from(data))
      }
    } catch (err) {
      this.fail(err instanceof AdapterError ? err : new AdapterError(this.closed ? 'CANCELLED' : 'CONNECTION_LOST', `NBD export ${this.label} closed: ${err instanceof Error ? err.message : String(err)}`))
    }
  }

  private fail(err: AdapterError): void {
    this.failure ??= err
    for (const p of this.pending.values()) p.reject(this.failure)
    this.pending.clear()
    this.socket.destroy()
  }

  /**
   * Exactly `length` bytes at `offset`: whole sectors are asked for (split into requests the server accepts, all in
   * flight at once) and the bytes wanted are cut out of them. A VDI's size is a whole number of sectors.
   */
  async read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    assertReadInBounds({ size: this.size, label: this.label }, offset, length)
    if (length === 0) return Buffer.alloc(0)
    if (signal?.aborted === true) throw new AdapterError('CANCELLED', `Reading ${this.label} was cancelled.`)
    const start = Math.floor(offset / SECTOR) * SECTOR
    const end = Math.min(this.size, Math.ceil((offset + length) / SECTOR) * SECTOR)
    const parts: Promise<Buffer>[] = []
    for (let at = start; at < end; at += MAX_REQUEST) parts.push(this.request(at, Math.min(MAX_REQUEST, end - at)))
    const datas = await Promise.all(parts)
    const whole = datas.length === 1 ? (datas[0] as Buffer) : Buffer.concat(datas, end - start)
    return start === offset && end === offset + length ? whole : whole.subarray(offset - start, offset - start + length)
  }

  private request(offset: number, length: number): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure)
    const handle = this.handle++
    const req = nbdRequest(CMD_READ, handle, offset, length)
    return new Promise((resolve, reject) => {
      this.pending.set(handle, { length, resolve, reject })
      this.socket.write(req)
    })
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.failure === undefined) {
      const req = nbdRequest(CMD_DISC, this.handle++)
      await new Promise<void>((resolve) => this.socket.end(req, () => resolve()))
    }
    this.fail(new AdapterError('CANCELLED', `NBD export ${this.label} is closed.`))
  }
}

/**
 * The first of the servers VDI.get_nbd_info lists that opens the export: XAPI lists one per address of every host
 * that can serve it, not all of which need be reachable from here (Xen Orchestra tries them all too). A certificate
 * that is not the one XAPI reported is never passed over: that ends the attempt at once.
 */
export async function connectAny(targets: readonly NbdTarget[], signal?: AbortSignal): Promise<XapiNbdClient> {
  let last: unknown
  for (const target of targets) {
    try {
      return await XapiNbdClient.connect(target, signal)
    } catch (err) {
      if (signal?.aborted === true || (err instanceof AdapterError && err.code === 'HOST_KEY_MISMATCH')) throw err
      last = err
    }
  }
  if (last instanceof Error) throw last
  throw new AdapterError('NOT_FOUND', 'The pool listed no NBD server for the disk.')
}

/** An NBD export as a BlockSource (random reads, many in flight). */
export function nbdBlockSource(client: XapiNbdClient, label: string, onClose?: () => Promise<void>): BlockSource {
  let closed = false
  return {
    size: client.size,
    label,
    read: (offset, length, signal) => client.read(offset, length, signal),
    async close() {
      if (closed) return
      closed = true
      await client.close()
      await onClose?.()
    },
  }
}
