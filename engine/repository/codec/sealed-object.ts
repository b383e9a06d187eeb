import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto'
import { RepositoryError } from '../errors.js'
import type { ZstdCodec } from './zstd.js'

/**
 * The envelope every stored chunk (and every encrypted manifest) is written in — see FORMAT.md "Sealed objects":
 *
 *   0  magic (4)  "LBC1" chunk | "LBM1" manifest
 *   4  flags (1)  bit 0 zstd-compressed, bit 1 AES-256-GCM; other bits must be 0
 *   5  reserved (3) zero
 *   8  plain length (4, u32 BE): bytes after decompression
 *  12  payload: plain or zstd bytes; when encrypted: IV (12) ‖ ciphertext ‖ GCM tag (16)
 *
 * When encrypted, the GCM additional data is the 12-byte header followed by the object's id (chunk id or point
 * id, ASCII), so an object copied over another one fails authentication instead of decrypting.
 */
export const HEADER_SIZE = 12
const FLAG_ZSTD = 1
const FLAG_AES = 2
const IV_SIZE = 12
const TAG_SIZE = 16

export type SealKind = 'chunk' | 'manifest'
const MAGIC: Record<SealKind, string> = { chunk: 'LBC1', manifest: 'LBM1' }

export interface SealOptions {
  readonly kind: SealKind
  /** Object id, bound into the GCM additional data. */
  readonly id: string
  readonly dataKey: Buffer | undefined
  readonly zstd: ZstdCodec
}

export function sealObject(plain: Uint8Array, options: SealOptions): Buffer {
  // Incompressible data (already-compressed files, encrypted volumes) is stored as is: it saves the reader a
  // pointless decompression and never grows the object.
  const compressed = options.zstd.compressTransient(plain)
  const payload = compressed ?? plain
  const encrypted = options.dataKey !== undefined
  // One allocation for the whole object; `compressed` lives in a scratch buffer and is copied straight into it.
  const out = Buffer.allocUnsafe(HEADER_SIZE + payload.length + (encrypted ? IV_SIZE + TAG_SIZE : 0))
  out.write(MAGIC[options.kind], 0, 'latin1')
  out[4] = (compressed !== undefined ? FLAG_ZSTD : 0) | (encrypted ? FLAG_AES : 0)
  out.fill(0, 5, 8)
  out.writeUInt32BE(plain.length, 8)
  if (options.dataKey === undefined) {
    out.set(payload, HEADER_SIZE)
    return out
  }
  const iv = randomBytes(IV_SIZE)
  iv.copy(out, HEADER_SIZE)
  const cipher = createCipheriv('aes-256-gcm', options.dataKey, iv)
  cipher.setAAD(Buffer.concat([out.subarray(0, HEADER_SIZE), Buffer.from(options.id, 'latin1')]))
  let at = HEADER_SIZE + IV_SIZE
  at += cipher.update(payload).copy(out, at)
  at += cipher.final().copy(out, at)
  cipher.getAuthTag().copy(out, at)
  return out
}

/** A sealed chunk in three parts, written one after the other: header (+ IV), body, GCM tag (empty if plain). */
export interface SealedParts {
  readonly head: Buffer
  readonly body: Buffer
  readonly tail: Buffer
}

const PIECE = 64 * 1024
const NOTHING = Buffer.alloc(0)

/**
 * Seals a chunk into the memory of `plain` itself (which the caller gives up): the compressed or encrypted body
 * is written over the bytes it came from, so sealing allocates no chunk-sized buffer. On this kind of machine
 * fresh memory is expensive (every new page is a fault, sometimes all the way to the host), and a backup would
 * otherwise touch gigabytes of it. Encryption goes in 64 KiB pieces so OpenSSL's outputs stay small and reused.
 */
export function sealInPlace(plain: Buffer, options: SealOptions): SealedParts {
  const compressed = options.zstd.compressTransient(plain)
  const encrypted = options.dataKey !== undefined
  const head = Buffer.alloc(HEADER_SIZE + (encrypted ? IV_SIZE : 0))
  head.write(MAGIC[options.kind], 0, 'latin1')
  head[4] = (compressed !== undefined ? FLAG_ZSTD : 0) | (encrypted ? FLAG_AES : 0)
  head.writeUInt32BE(plain.length, 8)
  const source = compressed ?? plain
  if (options.dataKey === undefined) {
    if (compressed !== undefined) compressed.copy(plain, 0)
    return { head, body: plain.subarray(0, source.length), tail: NOTHING }
  }
  const iv = randomBytes(IV_SIZE)
  iv.copy(head, HEADER_SIZE)
  const cipher = createCipheriv('aes-256-gcm', options.dataKey, iv)
  cipher.setAAD(Buffer.concat([head.subarray(0, HEADER_SIZE), Buffer.from(options.id, 'latin1')]))
  let written = 0
  // GCM outputs exactly as many bytes as it is given, so writing behind the read position is safe in place.
  for (let at = 0; at < source.length; at += PIECE) written += cipher.update(source.subarray(at, Math.min(source.length, at + PIECE))).copy(plain, written)
  written += cipher.final().copy(plain, written)
  return { head, body: plain.subarray(0, written), tail: cipher.getAuthTag() }
}

export interface OpenOptions extends SealOptions {
  /** Largest plain length accepted; checked before anything is allocated. */
  readonly maxPlainLength: number
  /**
   * The caller gives the object up: it is decrypted in its own memory and a stored (uncompressed) result is a view
   * of it, so no chunk-sized buffer is allocated or copied. Without it the object is left as it was.
   */
  readonly consume?: boolean
  /** Where a compressed object is decompressed to, when it is large enough (else a new buffer). */
  readonly into?: Buffer | undefined
}

/**
 * Opens an envelope. Every field is checked before use; any inconsistency throws a RepositoryError with
 * `reason` in its params (the caller turns that into CORRUPT_CHUNK or CORRUPT_MANIFEST with context).
 * With `consume`, the object's memory is reused for the result (see OpenOptions).
 */
export function openObject(object: Uint8Array, options: OpenOptions): Buffer {
  const buf = Buffer.from(object.buffer, object.byteOffset, object.byteLength)
  const fail = (reason: string): never => {
    throw new RepositoryError(options.kind === 'chunk' ? 'CORRUPT_CHUNK' : 'CORRUPT_MANIFEST', reason, { id: options.id, reason })
  }
  if (buf.length < HEADER_SIZE) fail('the object is shorter than its header')
  if (buf.toString('latin1', 0, 4) !== MAGIC[options.kind]) fail('the object does not start with the expected signature')
  const flags = buf[4] ?? 0
  if ((flags & ~(FLAG_ZSTD | FLAG_AES)) !== 0 || buf[5] !== 0 || buf[6] !== 0 || buf[7] !== 0) fail('the object header has unknown flags')
  const encrypted = (flags & FLAG_AES) !== 0
  if (encrypted !== (options.dataKey !== undefined)) {
    fail(encrypted ? 'the object is encrypted but the repository is not' : 'the object is not encrypted but the repository is')
  }
  const plainLength = buf.readUInt32BE(8)
  if (plainLength > options.maxPlainLength) fail(`the object claims ${plainLength} bytes, more than the ${options.maxPlainLength} allowed`)
  let payload: Buffer = buf.subarray(HEADER_SIZE)
  if (options.dataKey !== undefined) {
    if (payload.length < IV_SIZE + TAG_SIZE) fail('the encrypted object is truncated')
    const iv = payload.subarray(0, IV_SIZE)
    const tag = payload.subarray(payload.length - TAG_SIZE)
    const decipher = createDecipheriv('aes-256-gcm', options.dataKey, iv)
    decipher.setAAD(Buffer.concat([buf.subarray(0, HEADER_SIZE), Buffer.from(options.id, 'latin1')]))
    decipher.setAuthTag(tag)
    const body = payload.subarray(IV_SIZE, payload.length - TAG_SIZE)
    // Consumed: decrypted into the object's own memory in small pieces (like sealInPlace), so no chunk-sized buffer
    // is allocated and copied; else into one new buffer. Nothing decrypted is used unless final() accepts the tag.
    const into = options.consume === true ? body : Buffer.allocUnsafe(body.length)
    try {
      let written = 0
      for (let at = 0; at < body.length; at += PIECE) written += decipher.update(body.subarray(at, Math.min(body.length, at + PIECE))).copy(into, written)
      written += decipher.final().copy(into, written)
      payload = into.subarray(0, written)
    } catch {
      fail('the object failed its authentication check (damaged, or not written with this key)')
    }
  }
  if ((flags & FLAG_ZSTD) === 0) {
    if (payload.length !== plainLength) fail('the stored length does not match the header')
    return payload
  }
  const plain = options.zstd.decompressExact(payload, plainLength, options.into)
  if (plain === undefined) fail('the compressed data is damaged')
  return plain as Buffer
}

/** Chunk id: SHA-256 of the content, or HMAC-SHA-256 under the id key when the repository is encrypted. */
export function chunkIdOf(data: Uint8Array, idKey: Buffer | undefined): string {
  return (idKey === undefined ? createHash('sha256') : createHmac('sha256', idKey)).update(data).digest('hex')
}
