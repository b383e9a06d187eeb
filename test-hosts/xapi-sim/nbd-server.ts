/**
 * The NBD server a pool member runs for networks whose purpose is "nbd" (xapi-nbd): fixed newstyle only, TLS
 * required (NBD_OPT_STARTTLS with the host's certificate), NBD_OPT_EXPORT_NAME only, export names
 * "/<vdi-uuid>?session_id=<session>", read-only, whole sectors only.
 * It counts what clients read, so tests can check that an incremental backup read only the changed blocks.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { TLSSocket } from 'node:tls'
import { open, type FileHandle } from 'node:fs/promises'
import type { SimCore, SimHost } from './core'

const NBDMAGIC = Buffer.from('NBDMAGIC', 'latin1')
const IHAVEOPT = 0x49484156454f5054n
const REPLY_MAGIC = 0x3e889045565a9n
const OPT_EXPORT_NAME = 1
const OPT_ABORT = 2
const OPT_LIST = 3
const OPT_STARTTLS = 5
const REP_ACK = 1
const REP_ERR_UNSUP = 0x80000001
const REP_ERR_POLICY = 0x80000002
const REP_ERR_INVALID = 0x80000003
const REP_ERR_TLS_REQD = 0x80000005
const FLAG_FIXED_NEWSTYLE = 1
const REQUEST_MAGIC = 0x25609513
const SIMPLE_REPLY_MAGIC = 0x67446698
const CMD_READ = 0
const CMD_WRITE = 1
const CMD_DISC = 2
const FLAG_HAS_FLAGS = 1
const FLAG_READ_ONLY = 2
const MAX_READ = 32 * 1024 * 1024
const SECTOR = 512
const EINVAL = 22
const EPERM = 1

class Bytes {
  private buf: Buffer = Buffer.alloc(0)
  private waiter: (() => void) | undefined
  private ended = false

  constructor(private stream: Socket | TLSSocket) {
    this.attach(stream)
  }

  private onData = (d: Buffer) => {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d])
    this.waiter?.()
  }

  private onEnd = () => {
    this.ended = true
    this.waiter?.()
  }

  attach(stream: Socket | TLSSocket): void {
    this.stream = stream
    stream.on('data', this.onData)
    stream.on('end', this.onEnd)
    stream.on('close', this.onEnd)
    stream.on('error', this.onEnd)
  }

  detach(): Buffer {
    this.stream.off('data', this.onData)
    this.stream.off('end', this.onEnd)
    this.stream.off('close', this.onEnd)
    this.stream.off('error', this.onEnd)
    const rest = this.buf
    this.buf = Buffer.alloc(0)
    return rest
  }

  async read(n: number): Promise<Buffer> {
    while (this.buf.length < n) {
      if (this.ended) throw new Error('closed')
      await new Promise<void>((r) => (this.waiter = r))
      this.waiter = undefined
    }
    const out = this.buf.subarray(0, n)
    this.buf = this.buf.subarray(n)
    return out
  }
}

function optReply(option: number, type: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(20)
  h.writeBigUInt64BE(REPLY_MAGIC, 0)
  h.writeUInt32BE(option, 8)
  h.writeUInt32BE(type, 12)
  h.writeUInt32BE(data.length, 16)
  return Buffer.concat([h, data])
}

export function startNbdServer(core: SimCore, host: SimHost, holdInDom0: (vdi: string, host: string) => void): Promise<Server> {
  const sockets = new Set<Socket>()
  const server = createServer((raw) => {
    sockets.add(raw)
    raw.on('close', () => sockets.delete(raw))
    raw.on('error', () => undefined)
    void serve(core, host, raw, holdInDom0).catch(() => raw.destroy())
  })
  Object.assign(server, { destroyConnections: () => sockets.forEach((s) => s.destroy()) })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, host.address, () => {
      const addr = server.address()
      if (addr !== null && typeof addr === 'object') host.nbdPort = addr.port
      resolve(server)
    })
  })
}

/**
 * The handshake as xapi-nbd does it (xapi-project/nbd lib/server.ml, `connect` in FORCEDTLS mode): the greeting
 * offers fixed newstyle only (no NBD_FLAG_NO_ZEROES); before STARTTLS every option but STARTTLS is answered "TLS
 * required", and EXPORT_NAME or ABORT drop the connection; after it the only option that opens an export is
 * NBD_OPT_EXPORT_NAME (answered with size, flags and 124 zero bytes), STARTTLS is "invalid", LIST is refused by
 * policy (xapi-nbd offers no list) and anything else — NBD_OPT_GO and NBD_OPT_INFO included — "unsupported". An
 * export name it cannot serve drops the connection without a word.
 */
async function serve(core: SimCore, host: SimHost, raw: Socket, holdInDom0: (vdi: string, host: string) => void): Promise<void> {
  let stream: Socket | TLSSocket = raw
  let bytes = new Bytes(raw)
  const hello = Buffer.alloc(18)
  NBDMAGIC.copy(hello, 0)
  hello.writeBigUInt64BE(IHAVEOPT, 8)
  hello.writeUInt16BE(FLAG_FIXED_NEWSTYLE, 16)
  raw.write(hello)
  const clientFlags = (await bytes.read(4)).readUInt32BE(0)
  if ((clientFlags & FLAG_FIXED_NEWSTYLE) === 0) {
    raw.destroy()
    return
  }
  let tls = false
  for (let n = 0; n < 64; n++) {
    const head = await bytes.read(16)
    if (head.readBigUInt64BE(0) !== IHAVEOPT) throw new Error('bad option magic')
    const option = head.readUInt32BE(8)
    const length = head.readUInt32BE(12)
    if (length > 65536) throw new Error('option too long')
    const data = await bytes.read(length)
    if (option === OPT_ABORT || (!tls && option === OPT_EXPORT_NAME)) break
    if (option === OPT_STARTTLS) {
      if (tls) {
        stream.write(optReply(option, REP_ERR_INVALID))
        continue
      }
      stream.write(optReply(option, REP_ACK))
      const leftover = bytes.detach()
      if (leftover.length > 0) throw new Error('data after STARTTLS')
      const secure = new TLSSocket(raw, { isServer: true, cert: host.certPem, key: host.keyPem })
      secure.on('error', () => raw.destroy())
      await new Promise<void>((resolve, reject) => {
        secure.once('secure', resolve)
        secure.once('error', reject)
      })
      stream = secure
      bytes = new Bytes(secure)
      tls = true
      continue
    }
    if (!tls) {
      stream.write(optReply(option, REP_ERR_TLS_REQD))
      continue
    }
    if (option === OPT_LIST) {
      stream.write(optReply(option, REP_ERR_POLICY))
      continue
    }
    if (option !== OPT_EXPORT_NAME) {
      core.stats.nbdOptionsRefused.push(option)
      stream.write(optReply(option, REP_ERR_UNSUP))
      continue
    }
    const target = resolveExport(core, data.toString('utf8'))
    if (target === undefined) break
    const r = Buffer.alloc(134)
    r.writeBigUInt64BE(BigInt(target.size), 0)
    r.writeUInt16BE(FLAG_HAS_FLAGS | FLAG_READ_ONLY, 8)
    stream.write(r)
    await transmission(core, host, stream, bytes, target, holdInDom0)
    return
  }
  stream.destroy()
  raw.destroy()
}

function resolveExport(core: SimCore, name: string): { ref: string; uuid: string; size: number } | undefined {
  const m = /^\/([0-9a-f-]{36})\?session_id=(OpaqueRef:[A-Za-z0-9-]+)$/.exec(name)
  if (!m?.[1] || !m[2] || !core.db.has('session', m[2])) return undefined
  const found = core.db.all('VDI').find(([, v]) => v.uuid === m[1])
  if (!found || found[1].type === 'cbt_metadata') return undefined
  return { ref: found[0], uuid: m[1], size: Number(found[1].virtual_size) }
}

async function transmission(core: SimCore, host: SimHost, stream: Socket | TLSSocket, bytes: Bytes, target: { ref: string; uuid: string; size: number }, holdInDom0: (vdi: string, host: string) => void): Promise<void> {
  let fh: FileHandle | undefined
  try {
    fh = await open(core.storage.path(target.uuid), 'r')
    for (;;) {
      const req = await bytes.read(28)
      if (req.readUInt32BE(0) !== REQUEST_MAGIC) throw new Error('bad request magic')
      const type = req.readUInt16BE(6)
      const handle = req.subarray(8, 16)
      const offset = Number(req.readBigUInt64BE(16))
      const length = req.readUInt32BE(24)
      const reply = Buffer.alloc(16)
      reply.writeUInt32BE(SIMPLE_REPLY_MAGIC, 0)
      handle.copy(reply, 8)
      if (type === CMD_DISC) return
      if (type !== CMD_READ) {
        reply.writeUInt32BE(type === CMD_WRITE ? EPERM : EINVAL, 4)
        stream.write(reply)
        continue
      }
      // xapi-nbd (lib/server.ml, `serve`) answers EINVAL to a read that does not start and end on a sector.
      if (offset % SECTOR !== 0 || length % SECTOR !== 0 || offset + length > target.size || length > MAX_READ) {
        if (offset % SECTOR !== 0 || length % SECTOR !== 0) core.stats.nbdUnalignedReads++
        reply.writeUInt32BE(EINVAL, 4)
        stream.write(reply)
        continue
      }
      const data = Buffer.alloc(length)
      await fh.read(data, 0, length, offset)
      const drop = core.faults.dropTransferAfterBytes
      if (drop !== undefined) {
        if (drop < length) {
          core.faults.dropTransferAfterBytes = undefined
          stream.destroy()
          return
        }
        core.faults.dropTransferAfterBytes = drop - length
      }
      core.stats.nbdBytesRead.set(target.uuid, (core.stats.nbdBytesRead.get(target.uuid) ?? 0) + length)
      const log = core.stats.nbdReads.get(target.uuid) ?? []
      log.push({ offset, length })
      core.stats.nbdReads.set(target.uuid, log)
      if (!stream.write(Buffer.concat([reply, data]))) await new Promise((r) => stream.once('drain', r))
    }
  } finally {
    await fh?.close()
    stream.end()
    // xapi-nbd unplugs and destroys its dom0 VBD only after the client has gone.
    holdInDom0(target.ref, host.ref)
  }
}
