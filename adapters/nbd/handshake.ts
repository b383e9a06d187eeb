import type { Duplex } from 'node:stream'
import type { ByteQueue } from './byte-queue'

/**
 * The parts of the NBD protocol (https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md) every Lifeboat
 * client shares: the fixed-newstyle greeting and the option haggling. Everything the server sends is bounded.
 */
export const NBDMAGIC = Buffer.from('NBDMAGIC', 'latin1')
export const IHAVEOPT = 0x49484156454f5054n
export const OPT_REPLY_MAGIC = 0x3e889045565a9n
export const REQUEST_MAGIC = 0x25609513
export const SIMPLE_REPLY_MAGIC = 0x67446698
export const STRUCTURED_REPLY_MAGIC = 0x668e33ef
export const OPT_EXPORT_NAME = 1
export const OPT_STARTTLS = 5
export const OPT_GO = 7
export const OPT_STRUCTURED_REPLY = 8
export const OPT_SET_META_CONTEXT = 10
export const REP_ACK = 1
export const REP_INFO = 3
export const REP_META_CONTEXT = 4
export const CMD_READ = 0
export const CMD_DISC = 2
export const CMD_BLOCK_STATUS = 7
const MAX_OPTION_REPLY = 64 * 1024
const MAX_OPTION_REPLIES = 10_000
const OPTION_NAMES: Readonly<Record<number, string>> = { [OPT_STARTTLS]: 'TLS', [OPT_GO]: 'the export', [OPT_STRUCTURED_REPLY]: 'structured replies', [OPT_SET_META_CONTEXT]: 'block status' }

type Bad = (why: string) => Error

/** What the greeting settled. */
export interface Greeting {
  /** Both sides agreed on NBD_FLAG_NO_ZEROES: NBD_OPT_EXPORT_NAME is answered without its 124 bytes of padding. */
  readonly noZeroes: boolean
}

/** Reads the server's greeting and answers it: fixed newstyle, no zeroes when the server allows that. */
export async function greet(queue: ByteQueue, stream: Duplex, bad: Bad): Promise<Greeting> {
  const hello = await queue.read(18)
  if (!hello.subarray(0, 8).equals(NBDMAGIC) || hello.readBigUInt64BE(8) !== IHAVEOPT) throw bad('not an NBD newstyle server')
  const serverFlags = hello.readUInt16BE(16)
  if ((serverFlags & 1) === 0) throw bad('the server does not speak fixed newstyle')
  stream.write(u32(1 | (serverFlags & 2)))
  return { noZeroes: (serverFlags & 2) !== 0 }
}

/** An error reply to an option: its number and the server's message (printable ASCII, at most 200 characters). */
export interface OptionRefusal {
  readonly option: number
  readonly code: number
  readonly message: string
}

/**
 * Sends one option and reads its replies up to the final ACK; every other reply goes to `onReply`. An error reply
 * throws what `refused` makes of it (by default a BAD_RESPONSE naming the option and the server's message).
 */
export async function haggle(
  queue: ByteQueue,
  stream: Duplex,
  opt: number,
  data: Buffer,
  bad: Bad,
  onReply: (type: number, payload: Buffer) => void = () => undefined,
  refused: (r: OptionRefusal) => Error = (r) => bad(`the server refused ${OPTION_NAMES[r.option] ?? `option ${r.option}`} (error ${r.code}${r.message === '' ? '' : `: ${r.message}`})`),
): Promise<void> {
  stream.write(Buffer.concat([u64(IHAVEOPT), u32(opt), u32(data.length), data]))
  for (let replies = 0; replies < MAX_OPTION_REPLIES; replies++) {
    const head = await queue.read(20)
    if (head.readBigUInt64BE(0) !== OPT_REPLY_MAGIC || head.readUInt32BE(8) !== opt) throw bad('option reply out of step')
    const type = head.readUInt32BE(12)
    const length = head.readUInt32BE(16)
    if (length > MAX_OPTION_REPLY) throw bad('option reply too long')
    const payload = length > 0 ? Buffer.from(await queue.read(length)) : Buffer.alloc(0)
    if (type >= 0x80000000) throw refused({ option: opt, code: type - 0x80000000, message: payload.toString('utf8', 0, Math.min(200, payload.length)).replace(/[^\x20-\x7e]/g, '') })
    if (type === REP_ACK) return
    onReply(type, payload)
  }
  throw bad('too many option replies')
}

/** NBD_OPT_GO for `exportName`; resolves with the export's size (NBD_INFO_EXPORT), which must be at most `maxSize`. */
export async function go(queue: ByteQueue, stream: Duplex, exportName: string, maxSize: number, bad: Bad, refused?: (r: OptionRefusal) => Error): Promise<number> {
  const name = Buffer.from(exportName, 'utf8')
  let size: number | undefined
  await haggle(
    queue,
    stream,
    OPT_GO,
    Buffer.concat([u32(name.length), name, Buffer.from([0, 0])]),
    bad,
    (type, payload) => {
      if (type !== REP_INFO || payload.length < 12 || payload.readUInt16BE(0) !== 0) return
      const s = payload.readBigUInt64BE(2)
      if (s > BigInt(maxSize)) throw bad('impossible export size')
      size = Number(s)
    },
    refused,
  )
  if (size === undefined) throw bad('the server did not say how big the export is')
  return size
}

/**
 * NBD_OPT_EXPORT_NAME for `exportName`, for servers that know no NBD_OPT_GO (xapi-nbd: xapi-project/nbd
 * lib/server.ml answers every option but EXPORT_NAME, ABORT, LIST and STARTTLS "unsupported"). The server answers
 * with the export's size and flags (and 124 zero bytes unless no-zeroes was agreed) and goes straight to
 * transmission; a server that will not serve the name just closes the connection, so that is what the error says.
 */
export async function exportName(queue: ByteQueue, stream: Duplex, name: string, greeting: Greeting, maxSize: number, bad: Bad): Promise<number> {
  const bytes = Buffer.from(name, 'utf8')
  stream.write(Buffer.concat([u64(IHAVEOPT), u32(OPT_EXPORT_NAME), u32(bytes.length), bytes]))
  let answer: Buffer
  try {
    answer = await queue.read(greeting.noZeroes ? 10 : 134)
  } catch (err) {
    throw bad(`the server closed the connection instead of opening the export (${err instanceof Error ? err.message : String(err)}): it does not offer that export, or refused this client`)
  }
  const size = answer.readBigUInt64BE(0)
  if (size > BigInt(maxSize)) throw bad('impossible export size')
  return Number(size)
}

/** A transmission-phase request: NBD_CMD_READ, NBD_CMD_BLOCK_STATUS or NBD_CMD_DISC (offset and length 0). */
export function nbdRequest(type: number, handle: bigint, offset = 0, length = 0): Buffer {
  const req = Buffer.alloc(28)
  req.writeUInt32BE(REQUEST_MAGIC, 0)
  req.writeUInt16BE(0, 4) // command flags
  req.writeUInt16BE(type, 6)
  req.writeBigUInt64BE(handle, 8)
  req.writeBigUInt64BE(BigInt(offset), 16)
  req.writeUInt32BE(length, 24)
  return req
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}

export function u64(n: bigint): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(n)
  return b
}
