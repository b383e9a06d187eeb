import type { Readable } from 'node:stream'
import { ObjectTooLargeError } from '../backend.js'

/**
 * The whole body of a GetObject answer, at most `maxBytes`: refused on the declared length first, and again while
 * reading — a server that lied about the length must not make us buffer without end.
 */
export async function readBoundedBody(out: { readonly Body?: unknown; readonly ContentLength?: number | undefined }, key: string, maxBytes: number, into?: Buffer): Promise<Buffer> {
  const body = out.Body as Readable | undefined
  const declared = out.ContentLength ?? 0
  if (declared > maxBytes) {
    body?.destroy()
    throw new ObjectTooLargeError(key, declared, maxBytes)
  }
  if (body === undefined) return Buffer.alloc(0)
  const parts: Buffer[] = []
  let total = 0
  // Copied into the caller's memory as the parts arrive while they fit (no list of parts, no concatenation);
  // whatever does not fit is collected as before.
  let filled = 0
  for await (const part of body as AsyncIterable<Buffer>) {
    total += part.length
    if (total > maxBytes) {
      body.destroy()
      throw new ObjectTooLargeError(key, total, maxBytes)
    }
    if (into !== undefined && parts.length === 0 && filled + part.length <= into.length) filled += part.copy(into, filled)
    else {
      if (parts.length === 0 && filled > 0 && into !== undefined) parts.push(Buffer.from(into.subarray(0, filled)))
      parts.push(part)
    }
  }
  if (parts.length === 0 && into !== undefined) return into.subarray(0, filled)
  return Buffer.concat(parts, total)
}
