import { open, type FileHandle } from 'node:fs/promises'
import type { Allocation, ServedDisk } from './served-disk.js'

/*
 * A writable overlay for a served restore point: writes land in one local file, the restore point never changes.
 * Layout: a 4 KiB header (magic, disk size, block size, which disk it belongs to), a bitmap of the blocks written
 * (one bit per 64 KiB, like a qcow2 cluster), then the blocks at their disk offsets (a sparse file: only written
 * blocks take space). Reopening the file continues where it stopped; a file made for another disk is refused.
 */
const MAGIC = Buffer.from('LBOVL001', 'latin1')
const HEADER = 4096
export const OVERLAY_BLOCK = 64 * 1024
const MAX_IDENTITY = 1024
/** 8 TiB at 64 KiB a bit: a 16 MiB bitmap, held in memory. */
const MAX_DISK = 8 * 1024 ** 4

export class OverlayError extends Error {}

export async function openWriteOverlay(path: string, base: ServedDisk, identity: string): Promise<ServedDisk> {
  if (base.size > MAX_DISK) throw new OverlayError(`A write overlay holds disks of at most 8 TiB; ${base.label} is larger.`)
  const id = Buffer.from(identity, 'utf8')
  if (id.length > MAX_IDENTITY) throw new OverlayError('The overlay identity is too long.')
  const blocks = Math.ceil(base.size / OVERLAY_BLOCK)
  const bitmapBytes = Math.ceil(Math.ceil(blocks / 8) / 4096) * 4096
  const dataStart = HEADER + bitmapBytes
  let fh: FileHandle
  try {
    fh = await open(path, 'r+')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    fh = await open(path, 'wx+', 0o600)
    const header = Buffer.alloc(HEADER)
    MAGIC.copy(header, 0)
    header.writeBigUInt64BE(BigInt(base.size), 8)
    header.writeUInt32BE(OVERLAY_BLOCK, 16)
    header.writeUInt32BE(id.length, 20)
    id.copy(header, 24)
    await fh.write(header, 0, HEADER, 0)
    await fh.truncate(dataStart + base.size)
    await fh.sync()
  }
  const bitmap = Buffer.alloc(bitmapBytes)
  try {
    const header = Buffer.alloc(HEADER)
    const { bytesRead } = await fh.read(header, 0, HEADER, 0)
    const idLength = header.readUInt32BE(20)
    if (bytesRead < HEADER || !header.subarray(0, 8).equals(MAGIC)) throw new OverlayError(`${path} is not a Lifeboat write overlay; give a new file name (it is created) or an overlay made for this disk.`)
    if (header.readBigUInt64BE(8) !== BigInt(base.size) || header.readUInt32BE(16) !== OVERLAY_BLOCK || idLength > MAX_IDENTITY || !header.subarray(24, 24 + idLength).equals(id)) {
      throw new OverlayError(`${path} is the write overlay of another disk (${header.toString('utf8', 24, 24 + Math.min(idLength, MAX_IDENTITY)).slice(0, 200)}); give a new file name.`)
    }
    const got = await fh.read(bitmap, 0, bitmapBytes, HEADER)
    if (got.bytesRead !== bitmapBytes) throw new OverlayError(`${path} is cut short; it cannot be used as a write overlay.`)
  } catch (err) {
    await fh.close()
    throw err
  }
  const has = (block: number) => ((bitmap[block >> 3] ?? 0) & (1 << (block & 7))) !== 0
  // Writes are one at a time: a partial block is read, merged and written whole, and two of those must not interleave.
  let writing: Promise<void> = Promise.resolve()
  const exclusive = (work: () => Promise<void>): Promise<void> => {
    const next = writing.then(work)
    writing = next.catch(() => undefined)
    return next
  }

  /** Runs of [offset, offset + length) that live in the overlay (true) or in the base (false). */
  const spans = (offset: number, length: number): { offset: number; length: number; mine: boolean }[] => {
    const out: { offset: number; length: number; mine: boolean }[] = []
    let at = offset
    const end = offset + length
    while (at < end) {
      const block = Math.floor(at / OVERLAY_BLOCK)
      const to = Math.min(end, (block + 1) * OVERLAY_BLOCK)
      const mine = has(block)
      const last = out[out.length - 1]
      if (last !== undefined && last.mine === mine) last.length += to - at
      else out.push({ offset: at, length: to - at, mine })
      at = to
    }
    return out
  }

  const read = async (offset: number, length: number, signal?: AbortSignal): Promise<Buffer> => {
    const parts: Buffer[] = []
    for (const s of spans(offset, length)) {
      if (!s.mine) parts.push(await base.read(s.offset, s.length, signal))
      else {
        const b = Buffer.alloc(s.length)
        const { bytesRead } = await fh.read(b, 0, s.length, dataStart + s.offset)
        if (bytesRead !== s.length) throw new OverlayError(`The write overlay ${path} is shorter than the disk.`)
        parts.push(b)
      }
    }
    return parts.length === 1 && parts[0] !== undefined ? parts[0] : Buffer.concat(parts)
  }

  const writeAt = async (offset: number, data: Buffer): Promise<void> => {
    if (offset + data.length > base.size) throw new RangeError('write beyond the end of the disk')
    if (data.length === 0) return
    const first = Math.floor(offset / OVERLAY_BLOCK)
    const last = Math.floor((offset + data.length - 1) / OVERLAY_BLOCK)
    const start = first * OVERLAY_BLOCK
    const end = Math.min(base.size, (last + 1) * OVERLAY_BLOCK)
    let whole = data
    if (start !== offset || end !== offset + data.length) {
      // Partial blocks at either end: what the disk holds there now, with the new bytes on top (on a copy: what a
      // read returns may be the source's cached bytes).
      whole = Buffer.from(await read(start, end - start))
      data.copy(whole, offset - start)
    }
    await fh.write(whole, 0, whole.length, dataStart + start)
    for (let b = first; b <= last; b++) bitmap[b >> 3] = (bitmap[b >> 3] ?? 0) | (1 << (b & 7))
    const from = first >> 3
    const to = (last >> 3) + 1
    await fh.write(bitmap, from, to - from, HEADER + from)
  }

  const allocation = (offset: number, length: number): readonly Allocation[] => {
    const out: Allocation[] = []
    const push = (a: Allocation) => {
      const last = out[out.length - 1]
      if (last !== undefined && last.zero === a.zero) out[out.length - 1] = { length: last.length + a.length, zero: a.zero }
      else out.push(a)
    }
    for (const s of spans(offset, length)) {
      if (s.mine) push({ length: s.length, zero: false })
      else for (const a of base.allocation(s.offset, s.length)) push(a)
    }
    return out
  }

  let closed = false
  return {
    size: base.size,
    label: `${base.label} with the write overlay ${path}`,
    read,
    allocation,
    writable: {
      write: (offset, data) => exclusive(() => writeAt(offset, data)),
      writeZeroes: (offset, length) =>
        exclusive(async () => {
          const piece = 4 * 1024 * 1024
          for (let at = offset; at < offset + length; at += piece) await writeAt(at, Buffer.alloc(Math.min(piece, offset + length - at)))
        }),
      flush: () => exclusive(() => fh.sync()),
    },
    async close() {
      if (closed) return
      closed = true
      await writing
      await fh.sync().catch(() => undefined)
      await fh.close()
      await base.close()
    },
  }
}
