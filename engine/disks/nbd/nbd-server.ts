import { createServer, type Server, type Socket } from 'node:net'
import { rm } from 'node:fs/promises'
import type { Duplex } from 'node:stream'
import { ByteQueue } from '../../../adapters/nbd/byte-queue.js'
import { IHAVEOPT, NBDMAGIC, OPT_GO, OPT_REPLY_MAGIC, OPT_SET_META_CONTEXT, OPT_STARTTLS, OPT_STRUCTURED_REPLY, REP_ACK, REP_INFO, REP_META_CONTEXT, REQUEST_MAGIC, SIMPLE_REPLY_MAGIC, STRUCTURED_REPLY_MAGIC, CMD_BLOCK_STATUS, CMD_DISC, CMD_READ, u32, u64 as u64Big } from '../../../adapters/nbd/handshake.js'
import type { ServedDisk } from './served-disk.js'

/*
 * An NBD server (fixed newstyle; https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md) for one disk.
 * Everything a client sends is hostile: option and request sizes are bounded, requests outside the disk are refused
 * with an error reply, and a client that breaks the protocol is disconnected — never the server.
 */
const OPT_EXPORT_NAME = 1
const OPT_ABORT = 2
const OPT_LIST = 3
const OPT_INFO = 6
const OPT_LIST_META_CONTEXT = 9
const REP_SERVER = 2
const ERR_UNSUP = 0x80000001
const ERR_INVALID = 0x80000003
const ERR_UNKNOWN = 0x80000006
const INFO_EXPORT = 0
const INFO_NAME = 1
const INFO_DESCRIPTION = 2
const INFO_BLOCK_SIZE = 3
const FLAG_HAS_FLAGS = 1 << 0
const FLAG_READ_ONLY = 1 << 1
const FLAG_SEND_FLUSH = 1 << 2
const FLAG_SEND_FUA = 1 << 3
const FLAG_SEND_WRITE_ZEROES = 1 << 6
const FLAG_SEND_DF = 1 << 7
const FLAG_CAN_MULTI_CONN = 1 << 8
const CMD_WRITE = 1
const CMD_FLUSH = 3
const CMD_TRIM = 4
const CMD_CACHE = 5
const CMD_WRITE_ZEROES = 6
const CMD_FLAG_FUA = 1 << 0
const CMD_FLAG_DF = 1 << 2
const REPLY_FLAG_DONE = 1
const REPLY_TYPE_OFFSET_DATA = 1
const REPLY_TYPE_OFFSET_HOLE = 2
const REPLY_TYPE_BLOCK_STATUS = 5
const REPLY_TYPE_ERROR = (1 << 15) + 1
const STATE_HOLE = 1
const STATE_ZERO = 2
const EPERM = 1
const EIO = 5
const EINVAL = 22
const ENOSPC = 28
const EOVERFLOW = 75
const BASE_ALLOCATION = 'base:allocation'
const CONTEXT_ID = 1

/** Largest read or write one request may ask for (advertised as the maximum block size). */
export const MAX_REQUEST = 32 * 1024 * 1024
const MAX_OPTION = 64 * 1024
const MAX_OPTIONS = 256
const MAX_INFLIGHT = 16
/** Replies waiting in the socket beyond this stop the reading of new requests until the client catches up. */
const MAX_UNSENT = 64 * 1024 * 1024
const HANDSHAKE_MS = 30_000

export interface NbdServerOptions {
  readonly disk: ServedDisk
  /** The export's name; clients that ask for "" get it too. */
  readonly exportName: string
  readonly description: string
  /** At most this many clients at once; more are turned away at the greeting. */
  readonly maxClients?: number
  /** Called for every request served (bytes read or written), for progress. */
  readonly onServed?: (bytes: number) => void
  readonly log?: (message: string) => void
}

export type NbdAddress = { readonly kind: 'unix'; readonly path: string } | { readonly kind: 'tcp'; readonly host: string; readonly port: number }

export interface RunningNbdServer {
  /** The address as clients write it: nbd+unix:///NAME?socket=PATH or nbd://HOST:PORT/NAME. */
  readonly uri: string
  readonly address: NbdAddress
  /** Stops listening, disconnects every client after its in-flight requests, removes the unix socket. */
  close(): Promise<void>
}

/** Parses `unix:PATH` or `HOST:PORT` (loopback only: an NBD export has no authentication). */
export function parseNbdAddress(text: string): NbdAddress {
  if (text.startsWith('unix:')) {
    const path = text.slice(5)
    if (!path.startsWith('/') || path.length > 100) throw new Error('The socket must be an absolute path of at most 100 characters (unix:/run/lifeboat/disk.sock).')
    return { kind: 'unix', path }
  }
  const m = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\]):(\d{1,5})$/.exec(text)
  const port = Number(m?.[2])
  if (m?.[1] === undefined || port > 65535) throw new Error(`"${text}" is not unix:PATH or 127.0.0.1:PORT. An NBD export has no password, so Lifeboat serves it on this machine only.`)
  return { kind: 'tcp', host: m[1] === '[::1]' ? '::1' : m[1], port }
}

export async function startNbdServer(address: NbdAddress, options: NbdServerOptions): Promise<RunningNbdServer> {
  const clients = new Set<Socket>()
  const sessions = new Set<Promise<void>>()
  const maxClients = options.maxClients ?? 8
  const server: Server = createServer((socket) => {
    if (clients.size >= maxClients) {
      socket.destroy()
      return
    }
    clients.add(socket)
    socket.setNoDelay(true)
    socket.on('error', () => undefined)
    const session = serveClient(socket, options)
      .catch((err: unknown) => options.log?.(`NBD client dropped: ${err instanceof Error ? err.message : String(err)}`))
      .finally(() => {
        clients.delete(socket)
        sessions.delete(session)
        socket.destroy()
      })
    sessions.add(session)
  })
  if (address.kind === 'unix') await rm(address.path, { force: true }).catch(() => undefined)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    if (address.kind === 'unix') server.listen(address.path, resolve)
    else server.listen(address.port, address.host, resolve)
  })
  const bound = server.address()
  const actual: NbdAddress = address.kind === 'tcp' && bound !== null && typeof bound === 'object' ? { ...address, port: bound.port } : address
  const name = encodeURIComponent(options.exportName)
  const uri = actual.kind === 'unix' ? `nbd+unix:///${name}?socket=${actual.path}` : `nbd://${actual.host.includes(':') ? `[${actual.host}]` : actual.host}:${actual.port}/${name}`
  let closing: Promise<void> | undefined
  return {
    uri,
    address: actual,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve())
          for (const c of clients) c.end()
          setTimeout(() => {
            for (const c of clients) c.destroy()
          }, 5000).unref()
        })
        await Promise.allSettled([...sessions])
        if (actual.kind === 'unix') await rm(actual.path, { force: true }).catch(() => undefined)
      })()
      return closing
    },
  }
}

/**
 * Serves one client that is already connected through any byte stream (an SSH channel from a socket on a host, for
 * instant recovery): the same protocol and limits as a client of startNbdServer. Settles when the client is gone.
 */
export async function serveNbdStream(stream: Duplex, options: NbdServerOptions): Promise<void> {
  stream.on('error', () => undefined)
  try {
    await serveClient(stream, options)
  } finally {
    stream.destroy()
  }
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2)
  b.writeUInt16BE(n)
  return b
}
function u64(n: number | bigint): Buffer {
  return u64Big(BigInt(n))
}

class ClientGone extends Error {}

interface Session {
  structured: boolean
  allocationContext: boolean
  flags: number
}

async function serveClient(socket: Duplex, options: NbdServerOptions): Promise<void> {
  const queue = new ByteQueue(socket)
  const session: Session = { structured: false, allocationContext: false, flags: transmissionFlags(options.disk) }
  const timer = setTimeout(() => socket.destroy(), HANDSHAKE_MS)
  let entered: boolean
  try {
    socket.write(Buffer.concat([NBDMAGIC, u64(IHAVEOPT), u16(1 | 2)]))
    const clientFlags = (await queue.read(4)).readUInt32BE(0)
    if ((clientFlags & 1) === 0 || (clientFlags & ~3) !== 0) return
    entered = await haggle(queue, socket, session, options, (clientFlags & 2) !== 0)
  } finally {
    clearTimeout(timer)
  }
  if (entered) await transmit(queue, socket, session, options)
}

function transmissionFlags(disk: ServedDisk): number {
  const base = FLAG_HAS_FLAGS | FLAG_SEND_DF | FLAG_CAN_MULTI_CONN
  return disk.writable === undefined ? base | FLAG_READ_ONLY : base | FLAG_SEND_FLUSH | FLAG_SEND_FUA | FLAG_SEND_WRITE_ZEROES
}

/** Option haggling; true when the client moved on to transmission. */
async function haggle(queue: ByteQueue, socket: Duplex, session: Session, options: NbdServerOptions, noZeroes: boolean): Promise<boolean> {
  const reply = (opt: number, type: number, data: Buffer = Buffer.alloc(0)) => socket.write(Buffer.concat([u64(OPT_REPLY_MAGIC), u32(opt), u32(type), u32(data.length), data]))
  const refuse = (opt: number, type: number, message: string) => reply(opt, type, Buffer.from(message, 'utf8'))
  for (let n = 0; n < MAX_OPTIONS; n++) {
    const head = await queue.read(16)
    if (head.readBigUInt64BE(0) !== IHAVEOPT) return false
    const opt = head.readUInt32BE(8)
    const length = head.readUInt32BE(12)
    if (length > MAX_OPTION) return false
    const data = length > 0 ? Buffer.from(await queue.read(length)) : Buffer.alloc(0)
    switch (opt) {
      case OPT_EXPORT_NAME: {
        if (!knownExport(data.toString('utf8'), options)) return false
        socket.write(Buffer.concat([u64(options.disk.size), u16(session.flags), noZeroes ? Buffer.alloc(0) : Buffer.alloc(124)]))
        return true
      }
      case OPT_ABORT:
        reply(opt, REP_ACK)
        return false
      case OPT_LIST: {
        if (length !== 0) refuse(opt, ERR_INVALID, 'NBD_OPT_LIST takes no data')
        else {
          const name = Buffer.from(options.exportName, 'utf8')
          reply(opt, REP_SERVER, Buffer.concat([u32(name.length), name]))
          reply(opt, REP_ACK)
        }
        break
      }
      case OPT_STARTTLS:
        refuse(opt, ERR_UNSUP, 'TLS is not offered: this export listens on this machine only')
        break
      case OPT_STRUCTURED_REPLY:
        if (length !== 0) refuse(opt, ERR_INVALID, 'NBD_OPT_STRUCTURED_REPLY takes no data')
        else {
          session.structured = true
          reply(opt, REP_ACK)
        }
        break
      case OPT_LIST_META_CONTEXT:
      case OPT_SET_META_CONTEXT: {
        const parsed = parseMetaRequest(data)
        if (parsed === undefined) refuse(opt, ERR_INVALID, 'malformed meta context request')
        else if (!knownExport(parsed.name, options)) refuse(opt, ERR_UNKNOWN, 'no such export')
        else if (opt === OPT_SET_META_CONTEXT && !session.structured) refuse(opt, ERR_INVALID, 'structured replies first')
        else {
          const wanted = parsed.queries.length === 0 ? opt === OPT_LIST_META_CONTEXT : parsed.queries.some((q) => q === BASE_ALLOCATION || (opt === OPT_LIST_META_CONTEXT && q === 'base:'))
          if (opt === OPT_SET_META_CONTEXT) session.allocationContext = wanted
          if (wanted) reply(opt, REP_META_CONTEXT, Buffer.concat([u32(CONTEXT_ID), Buffer.from(BASE_ALLOCATION, 'utf8')]))
          reply(opt, REP_ACK)
        }
        break
      }
      case OPT_INFO:
      case OPT_GO: {
        const parsed = parseInfoRequest(data)
        if (parsed === undefined) {
          refuse(opt, ERR_INVALID, 'malformed info request')
          break
        }
        if (!knownExport(parsed.name, options)) {
          refuse(opt, ERR_UNKNOWN, `no export named "${parsed.name.slice(0, 100)}"`)
          break
        }
        reply(opt, REP_INFO, Buffer.concat([u16(INFO_EXPORT), u64(options.disk.size), u16(session.flags)]))
        if (parsed.requests.includes(INFO_NAME)) reply(opt, REP_INFO, Buffer.concat([u16(INFO_NAME), Buffer.from(options.exportName, 'utf8')]))
        if (parsed.requests.includes(INFO_DESCRIPTION)) reply(opt, REP_INFO, Buffer.concat([u16(INFO_DESCRIPTION), Buffer.from(options.description.slice(0, 4096), 'utf8')]))
        if (parsed.requests.includes(INFO_BLOCK_SIZE)) reply(opt, REP_INFO, Buffer.concat([u16(INFO_BLOCK_SIZE), u32(1), u32(4096), u32(MAX_REQUEST)]))
        reply(opt, REP_ACK)
        if (opt === OPT_GO) return true
        break
      }
      default:
        refuse(opt, ERR_UNSUP, `option ${opt} is not supported`)
    }
  }
  return false
}

function knownExport(name: string, options: NbdServerOptions): boolean {
  return name === '' || name === options.exportName
}

function parseInfoRequest(data: Buffer): { name: string; requests: number[] } | undefined {
  if (data.length < 6) return undefined
  const nameLength = data.readUInt32BE(0)
  if (4 + nameLength + 2 > data.length) return undefined
  const name = data.toString('utf8', 4, 4 + nameLength)
  const count = data.readUInt16BE(4 + nameLength)
  if (data.length !== 4 + nameLength + 2 + count * 2) return undefined
  const requests = Array.from({ length: count }, (_, i) => data.readUInt16BE(4 + nameLength + 2 + i * 2))
  return { name, requests }
}

function parseMetaRequest(data: Buffer): { name: string; queries: string[] } | undefined {
  if (data.length < 8) return undefined
  const nameLength = data.readUInt32BE(0)
  if (4 + nameLength + 4 > data.length) return undefined
  const name = data.toString('utf8', 4, 4 + nameLength)
  const count = data.readUInt32BE(4 + nameLength)
  if (count > 64) return undefined
  const queries: string[] = []
  let at = 8 + nameLength
  for (let i = 0; i < count; i++) {
    if (at + 4 > data.length) return undefined
    const length = data.readUInt32BE(at)
    if (at + 4 + length > data.length) return undefined
    queries.push(data.toString('utf8', at + 4, at + 4 + length))
    at += 4 + length
  }
  return at === data.length ? { name, queries } : undefined
}

/** The transmission phase: requests are read in order and served up to MAX_INFLIGHT at once. */
async function transmit(queue: ByteQueue, socket: Duplex, session: Session, options: NbdServerOptions): Promise<void> {
  const disk = options.disk
  const inflight = new Set<Promise<void>>()
  const stop = new AbortController()
  socket.once('close', () => stop.abort(new ClientGone('the client went away')))
  try {
    for (;;) {
      while (inflight.size >= MAX_INFLIGHT) await Promise.race(inflight)
      if (socket.writableLength > MAX_UNSENT) await new Promise((resolve) => socket.once('drain', resolve))
      const head = await queue.read(28)
      if (head.readUInt32BE(0) !== REQUEST_MAGIC) return
      const flags = head.readUInt16BE(4)
      const type = head.readUInt16BE(6)
      const handle = head.readBigUInt64BE(8)
      const offset64 = head.readBigUInt64BE(16)
      const length = head.readUInt32BE(24)
      const offset = offset64 > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(offset64)
      const fail = (error: number, message: string) => sendError(socket, session, handle, error, message)
      if (type === CMD_DISC) return
      // A write's payload follows its header whatever we make of it: read it first, so the stream stays in step.
      let payload: Buffer | undefined
      if (type === CMD_WRITE) {
        if (length > MAX_REQUEST) return // cannot skip that much safely: the client broke the advertised limit
        payload = Buffer.from(await queue.read(length))
      }
      const inside = offset + length <= disk.size
      let work: (() => Promise<void>) | undefined
      if (type === CMD_READ) {
        if (length > MAX_REQUEST) fail(EOVERFLOW, `reads are at most ${MAX_REQUEST} bytes`)
        else if (!inside) fail(EINVAL, 'read beyond the end of the disk')
        else work = () => serveRead(socket, session, disk, handle, offset, length, (flags & CMD_FLAG_DF) !== 0, stop.signal, options)
      } else if (type === CMD_BLOCK_STATUS) {
        if (!session.allocationContext) fail(EINVAL, 'no meta context was negotiated')
        else if (!inside || length === 0) fail(EINVAL, 'block status outside the disk')
        else sendBlockStatus(socket, handle, disk.allocation(offset, length))
      } else if (type === CMD_WRITE || type === CMD_WRITE_ZEROES || type === CMD_TRIM || type === CMD_FLUSH) {
        const w = disk.writable
        if (w === undefined) fail(EPERM, 'this export is read-only (serve it with --writable-overlay FILE to accept writes)')
        else if (type !== CMD_FLUSH && !inside) fail(ENOSPC, 'write beyond the end of the disk')
        else if (type === CMD_TRIM) sendOk(socket, session, handle)
        else {
          const fua = (flags & CMD_FLAG_FUA) !== 0
          work = async () => {
            if (type === CMD_WRITE && payload !== undefined) await w.write(offset, payload)
            else if (type === CMD_WRITE_ZEROES) await w.writeZeroes(offset, length)
            if (type === CMD_FLUSH || fua) await w.flush()
            options.onServed?.(type === CMD_FLUSH ? 0 : length)
            sendOk(socket, session, handle)
          }
        }
      } else if (type === CMD_CACHE) sendOk(socket, session, handle)
      else fail(EINVAL, `command ${type} is not supported`)
      if (work !== undefined) {
        const p: Promise<void> = work()
          .catch((err: unknown) => {
            if (!(err instanceof ClientGone) && !stop.signal.aborted) fail(err instanceof RangeError ? EINVAL : EIO, err instanceof Error ? err.message : String(err))
          })
          .finally(() => inflight.delete(p))
        inflight.add(p)
      }
    }
  } catch (err) {
    if (!(err instanceof Error) || !/closed|ended|reset/i.test(err.message)) throw err
  } finally {
    await Promise.allSettled([...inflight])
  }
}

async function serveRead(socket: Duplex, session: Session, disk: ServedDisk, handle: bigint, offset: number, length: number, noFragments: boolean, signal: AbortSignal, options: NbdServerOptions): Promise<void> {
  if (!session.structured) {
    const data = length === 0 ? Buffer.alloc(0) : await disk.read(offset, length, signal)
    socket.write(Buffer.concat([u32(SIMPLE_REPLY_MAGIC), u32(0), u64(handle), data]))
    options.onServed?.(length)
    return
  }
  const runs = length === 0 || noFragments ? [{ length, zero: false }] : disk.allocation(offset, length)
  // Read every data run first, then write the reply's chunks back to back: an error can still be a clean reply.
  const parts: { offset: number; length: number; data?: Buffer }[] = []
  let at = offset
  for (const run of runs) {
    parts.push(run.zero ? { offset: at, length: run.length } : { offset: at, length: run.length, data: run.length === 0 ? Buffer.alloc(0) : await disk.read(at, run.length, signal) })
    at += run.length
  }
  // Headers and data go out as they are, under one cork: copying megabytes of data into one buffer first cost a
  // copy of every byte served.
  socket.cork()
  parts.forEach((p, i) => {
    const done = i === parts.length - 1 ? REPLY_FLAG_DONE : 0
    if (p.data !== undefined) {
      socket.write(Buffer.concat([structuredHead(done, REPLY_TYPE_OFFSET_DATA, handle, 8 + p.data.length), u64(p.offset)]))
      socket.write(p.data)
    } else socket.write(Buffer.concat([structuredHead(done, REPLY_TYPE_OFFSET_HOLE, handle, 12), u64(p.offset), u32(p.length)]))
  })
  socket.uncork()
  options.onServed?.(length)
}

function structuredHead(flags: number, type: number, handle: bigint, length: number): Buffer {
  return Buffer.concat([u32(STRUCTURED_REPLY_MAGIC), u16(flags), u16(type), u64(handle), u32(length)])
}

function sendOk(socket: Duplex, session: Session, handle: bigint): void {
  if (session.structured) socket.write(structuredHead(REPLY_FLAG_DONE, 0, handle, 0))
  else socket.write(Buffer.concat([u32(SIMPLE_REPLY_MAGIC), u32(0), u64(handle)]))
}

function sendError(socket: Duplex, session: Session, handle: bigint, error: number, message: string): void {
  if (socket.destroyed) return
  if (!session.structured) {
    socket.write(Buffer.concat([u32(SIMPLE_REPLY_MAGIC), u32(error), u64(handle)]))
    return
  }
  const text = Buffer.from(message.slice(0, 1000), 'utf8')
  socket.write(Buffer.concat([structuredHead(REPLY_FLAG_DONE, REPLY_TYPE_ERROR, handle, 6 + text.length), u32(error), u16(text.length), text]))
}

function sendBlockStatus(socket: Duplex, handle: bigint, runs: readonly { length: number; zero: boolean }[]): void {
  // One descriptor's length is 32 bits: long runs are split (and at most 1 MiB of descriptors go in one reply).
  const descriptors: Buffer[] = []
  for (const run of runs) {
    for (let left = run.length; left > 0 && descriptors.length < 131_072; ) {
      const piece = Math.min(left, 0x80000000)
      descriptors.push(u32(piece), u32(run.zero ? STATE_HOLE | STATE_ZERO : 0))
      left -= piece
    }
  }
  const body = Buffer.concat([u32(CONTEXT_ID), ...descriptors])
  socket.write(Buffer.concat([structuredHead(REPLY_FLAG_DONE, REPLY_TYPE_BLOCK_STATUS, handle, body.length), body]))
}
