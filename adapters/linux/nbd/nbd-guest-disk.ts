import { assertReadInBounds, type BlockSource } from '../../block-source'
import type { NbdClient } from './nbd-client'

const STATUS_WINDOW = 1024 * 1024 * 1024

/** An NBD export as a BlockSource (guest-visible bytes, random reads, many in flight). */
export function nbdBlockSource(client: NbdClient, label: string, onClose?: () => Promise<void>): BlockSource {
  let closed = false
  return {
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
 * The ranges a meta context marks with `flag` (for qemu:dirty-bitmap:*, bit 0 = dirty), merged and in order. The
 * server answers for windows of the disk; each answer must make progress, so the loop ends.
 */
export async function flaggedRanges(client: NbdClient, contextId: number, flag: number, signal?: AbortSignal): Promise<{ offset: number; length: number }[]> {
  const size = client.info.size
  const out: { offset: number; length: number }[] = []
  let at = 0
  while (at < size) {
    signal?.throwIfAborted()
    const extents = await client.blockStatus(contextId, at, Math.min(STATUS_WINDOW, size - at), signal)
    let progressed = 0
    for (const e of extents) {
      const length = Math.min(e.length, size - at - progressed)
      if (length <= 0) break
      if ((e.flags & flag) !== 0) {
        const start = at + progressed
        const last = out.at(-1)
        if (last !== undefined && last.offset + last.length === start) last.length += length
        else out.push({ offset: start, length })
      }
      progressed += length
    }
    if (progressed === 0) throw new Error(`${client.info.size}: the NBD server described no progress at offset ${at}`)
    at += progressed
  }
  return out
}
