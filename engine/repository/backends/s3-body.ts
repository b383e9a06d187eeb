import type { Readable } from 'node:stream'
import { ObjectTooLargeError } from '../backend.js'

/**
 * The whole body of a GetObject answer, at most `maxBytes`: refused on the declared length first, and again while
 * reading — a server that lied about the length must not make us buffer without end.
 */
export async function readBoundedBody(out: { readonly Body?: unknown; readonly ContentLength?: number | undefined }, key: string, maxBytes: number): Promise<Buffer> {
  const body = out.Body as Readable | undefined
  const declared = out.ContentLength ?? 0
  if (declared > maxBytes) {
    body?.destroy()
    throw new ObjectTooLargeError(key, declared, maxBytes)
  }
  if (body === undefined) return Buffer.alloc(0)
  const parts: Buffer[] = []
  let total = 0
  for await (const part of body as AsyncIterable<Buffer>) {
    total += part.length
    if (total > maxBytes) {
      body.destroy()
      throw new ObjectTooLargeError(key, total, maxBytes)
    }
    parts.push(part)
  }
  return Buffer.concat(parts, total)
}
