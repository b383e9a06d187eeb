import { assertReadInBounds, type BlockSource, type Extent } from '../../block-source'
import { AdapterError } from '../../host-adapter'
import type { NbdClient } from './nbd-client'

const STATUS_WINDOW = 1024 * 1024 * 1024
/** The standard meta context saying which extents are holes or read as zeros (NBD_STATE_HOLE = 1, NBD_STATE_ZERO = 2). */
export const BASE_ALLOCATION = 'base:allocation'
const STATE_ZERO = 2

/**
 * An NBD export as a BlockSource (guest-visible bytes, random reads, many in flight). When the client negotiated
 * base:allocation it also reports extents, so ingest never asks for what the server says reads as zeros.
 */
export function nbdBlockSource(client: NbdClient, label: string, onClose?: () => Promise<void>): BlockSource {
  let closed = false
  const allocation = client.info.contexts.get(BASE_ALLOCATION)
  return {
    ...(allocation !== undefined ? { extents: (signal?: AbortSignal) => allocationExtents(client, allocation, label, signal) } : {}),
    size: client.info.size,
    label,
    read: async (offset, length, signal) => {
      assertReadInBounds({ size: client.info.size, label }, offset, length)
      if (length === 0) return Buffer.alloc(0)
      return await client.read(offset, length, signal)
    },
    close: async () => {
      if (closed) return
      closed = true
      await client.close()
      await onClose?.()
    },
  }
}

/**
 * The server's extents of one meta context over the whole disk, in order, each clipped to the disk. The server
 * answers for windows of the disk; each answer must make progress (`noProgress` says what to throw), so the loop ends.
 */
async function* contextExtents(client: NbdClient, contextId: number, noProgress: (at: number) => Error, signal?: AbortSignal): AsyncIterable<{ offset: number; length: number; flags: number }> {
  const size = client.info.size
  let at = 0
  while (at < size) {
    signal?.throwIfAborted()
    const answer = await client.blockStatus(contextId, at, Math.min(STATUS_WINDOW, size - at), signal)
    let progressed = 0
    for (const e of answer) {
      const length = Math.min(e.length, size - at - progressed)
      if (length <= 0) break
      yield { offset: at + progressed, length, flags: e.flags }
      progressed += length
    }
    if (progressed === 0) throw noProgress(at)
    at += progressed
  }
}

/** The ranges a meta context marks with `flag` (for qemu:dirty-bitmap:*, bit 0 = dirty), merged and in order. */
export async function flaggedRanges(client: NbdClient, contextId: number, flag: number, signal?: AbortSignal): Promise<{ offset: number; length: number }[]> {
  const out: { offset: number; length: number }[] = []
  const noProgress = (at: number) => new Error(`${client.info.size}: the NBD server described no progress at offset ${at}`)
  for await (const e of contextExtents(client, contextId, noProgress, signal)) {
    if ((e.flags & flag) === 0) continue
    const last = out.at(-1)
    if (last !== undefined && last.offset + last.length === e.offset) last.length += e.length
    else out.push({ offset: e.offset, length: e.length })
  }
  return out
}

/**
 * The export's extents from base:allocation, merged by kind: only NBD_STATE_ZERO counts as zero (a hole without it
 * may read as a backing file's data).
 */
async function* allocationExtents(client: NbdClient, contextId: number, label: string, signal?: AbortSignal): AsyncIterable<Extent> {
  let pending: Extent | undefined
  const noProgress = (at: number) => new AdapterError('BAD_RESPONSE', `${label}: the NBD server described no allocation at offset ${at}.`)
  for await (const e of contextExtents(client, contextId, noProgress, signal)) {
    const kind: Extent['kind'] = (e.flags & STATE_ZERO) !== 0 ? 'zero' : 'data'
    if (pending !== undefined && pending.kind === kind) pending = { offset: pending.offset, length: pending.length + e.length, kind }
    else {
      if (pending !== undefined) yield pending
      pending = { offset: e.offset, length: e.length, kind }
    }
  }
  if (pending !== undefined) yield pending
}
