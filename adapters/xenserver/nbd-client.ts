import { connect as netConnect, type Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { AdapterError, sameFingerprint, type GuestDisk } from '../host-adapter'
import { openTls, pemFingerprint, presented } from './pinned-tls'

/**
 * An NBD client for the servers XenServer/XCP-ng run on networks with the "nbd" purpose (VDI.get_nbd_info): fixed
 * newstyle, NBD_OPT_STARTTLS, then NBD_OPT_GO and pipelined NBD_CMD_READ with simple replies. The TLS certificate
 * must be the one XAPI handed out with the export (over the pinned session); everything the server sends is checked.
 */
const NBDMAGIC = Buffer.from('NBDMAGIC', 'latin1')
const IHAVEOPT = 0x49484156454f5054n
const REPLY_MAGIC = 0x3e889045565a9n
const REQUEST_MAGIC = 0x25609513
const SIMPLE_REPLY_MAGIC = 0x67446698
const OPT_STARTTLS = 5
const OPT_GO = 7
const REP_ACK = 1
const REP_INFO = 3
const CMD_READ = 0
const CMD_DISC = 2
const MAX_REQUEST = 4 * 1024 * 1024
const MAX_OPTION_REPLY = 64 * 1024
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

class Reader {
  private chunks: Buffer[] = []
  private length = 0
  private waiter: (() => void) | undefined
  private failure: Error | undefined

  constructor(private readonly stream: Socket | TLSSocket) {
    stream.on('data', this.onData)
    stream.on('error', this.onEnd)
    stream.on('close', this.onEnd)
  }

  private onData = (d: Buffer): void => {
    this.chunks.push(d)
    this.length += d.length
    this.waiter?.()
  }

  private onEnd = (err?: unknown): void => {
    this.failure ??= err instanceof Error ? err : new Error('the connection closed')
    this.waiter?.()
  }

  detach(): number {
    this.stream.off('data', this.onData)
    this.stream.off('error', this.onEnd)
    this.stream.off('close', this.onEnd)
    return this.length
  }

  async read(n: number): Promise<Buffer> {
    while (this.length < n) {
      if (this.failure) throw this.failure
      await new Promise<void>((r) => (this.waiter = r))
      this.waiter = undefined
    }
    const all = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.length)
    const out = all.subarray(0, n)
    const rest = all.subarray(n)
    this.chunks = rest.length > 0 ? [rest] : []
    this.length = rest.length
    return out
  }
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
    private readonly reader: Reader,
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
      const plain = new Reader(raw)
      const hello = await plain.read(18)
      if (!hello.subarray(0, 8).equals(NBDMAGIC) || hello.readBigUInt64BE(8) !== IHAVEOPT) throw bad('not an NBD newstyle server')
      const serverFlags = hello.readUInt16BE(16)
      if ((serverFlags & 1) === 0) throw bad('the server does not speak fixed newstyle')
      const flags = Buffer.alloc(4)
      flags.writeUInt32BE(1 | (serverFlags & 2))
      raw.write(flags)
      raw.write(option(OPT_STARTTLS, Buffer.alloc(0)))
      const ack = await optionReply(plain, OPT_STARTTLS, bad)
      if (ack.type !== REP_ACK) throw bad(`the server refused TLS (reply ${ack.type})`)
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
      const reader = new Reader(secure)
      const name = Buffer.from(target.exportName, 'utf8')
      const go = Buffer.alloc(4 + name.length + 2)
      go.writeUInt32BE(name.length, 0)
      name.copy(go, 4)
      secure.write(option(OPT_GO, go))
      let size: number | undefined
      for (let i = 0; i < 64; i++) {
        const r = await optionReply(reader, OPT_GO, bad)
        if (r.type === REP_ACK) break
        if (r.type === REP_INFO && r.data.length >= 12 && r.data.readUInt16BE(0) === 0) {
          const s = r.data.readBigUInt64BE(2)
          if (s > BigInt(MAX_SIZE)) throw bad('impossible export size')
          size = Number(s)
        } else if (r.type >= 0x80000000) throw new AdapterError('COMMAND_FAILED', `NBD server ${target.address}:${target.port} refused the export of ${target.label} (error ${r.type - 0x80000000}${r.data.length > 0 ? `: ${r.data.toString('utf8', 0, Math.min(200, r.data.length)).replace(/[^\x20-\x7e]/g, '')}` : ''}).`)
      }
      if (size === undefined) throw bad('the server did not say how big the export is')
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
        entry.resolve(Buffer.from(await this.reader.read(entry.length)))
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

  /** Exactly `length` bytes at `offset` (split into requests the server accepts, all in flight at once). */
  async read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new RangeError(`Read of ${length} bytes at offset ${offset} is outside ${this.label} (size ${this.size} bytes)`)
    }
    if (length === 0) return Buffer.alloc(0)
    if (signal?.aborted === true) throw new AdapterError('CANCELLED', `Reading ${this.label} was cancelled.`)
    const parts: Promise<Buffer>[] = []
    for (let at = 0; at < length; at += MAX_REQUEST) parts.push(this.request(offset + at, Math.min(MAX_REQUEST, length - at)))
    const datas = await Promise.all(parts)
    return datas.length === 1 ? (datas[0] as Buffer) : Buffer.concat(datas, length)
  }

  private request(offset: number, length: number): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure)
    const handle = this.handle++
    const req = Buffer.alloc(28)
    req.writeUInt32BE(REQUEST_MAGIC, 0)
    req.writeUInt16BE(0, 4)
    req.writeUInt16BE(CMD_READ, 6)
    req.writeBigUInt64BE(handle, 8)
    req.writeBigUInt64BE(BigInt(offset), 16)
    req.writeUInt32BE(length, 24)
    return new Promise((resolve, reject) => {
      this.pending.set(handle, { length, resolve, reject })
      this.socket.write(req)
    })
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.failure === undefined) {
      const req = Buffer.alloc(28)
      req.writeUInt32BE(REQUEST_MAGIC, 0)
      req.writeUInt16BE(CMD_DISC, 6)
      req.writeBigUInt64BE(this.handle++, 8)
      await new Promise<void>((resolve) => this.socket.end(req, () => resolve()))
    }
    this.fail(new AdapterError('CANCELLED', `NBD export ${this.label} is closed.`))
  }
}

function option(opt: number, data: Buffer): Buffer {
  const h = Buffer.alloc(16)
  h.writeBigUInt64BE(IHAVEOPT, 0)
  h.writeUInt32BE(opt, 8)
  h.writeUInt32BE(data.length, 12)
  return Buffer.concat([h, data])
}

async function optionReply(reader: Reader, opt: number, bad: (why: string) => AdapterError): Promise<{ type: number; data: Buffer }> {
  const head = await reader.read(20)
  if (head.readBigUInt64BE(0) !== REPLY_MAGIC || head.readUInt32BE(8) !== opt) throw bad('unexpected option reply')
  const length = head.readUInt32BE(16)
  if (length > MAX_OPTION_REPLY) throw bad('option reply too large')
  return { type: head.readUInt32BE(12), data: Buffer.from(await reader.read(length)) }
}

/** An NBD export as a GuestDisk (random reads, many in flight). */
export function nbdGuestDisk(client: XapiNbdClient, label: string, onClose?: () => Promise<void>): GuestDisk {
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
