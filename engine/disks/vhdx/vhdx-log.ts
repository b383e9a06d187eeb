import type { BlockSource } from '../block-source'
import { crc32c } from '../crc32c'
import { DiskFormatError } from '../errors'
import { readStructure } from '../source-read'

/**
 * Replays a VHDX log in memory ([MS-VHDX] 2.3): finds the active sequence of log entries (consecutive sequence
 * numbers, checksums valid, tagged with the header's log GUID, ending at a head whose tail is in the chain) and
 * returns the writes it records, in order. Nothing is written back: the caller overlays them on the file.
 */
const SECTOR = 4096
const MiB = 1024 * 1024

interface LogEntry {
  readonly offset: number
  readonly length: number
  readonly tail: number
  readonly sequence: bigint
  readonly lastFileOffset: number
  readonly writes: { offset: number; data: Buffer }[]
}

function parseEntry(log: Buffer, at: number, guid: Buffer): LogEntry | undefined {
  const logLen = log.length
  const view = (o: number, n: number): Buffer => {
    const start = (at + o) % logLen
    if (start + n <= logLen) return log.subarray(start, start + n)
    return Buffer.concat([log.subarray(start), log.subarray(0, n - (logLen - start))])
  }
  const head = view(0, 64)
  if (head.toString('latin1', 0, 4) !== 'loge') return undefined
  const length = head.readUInt32LE(8)
  if (length < SECTOR || length % SECTOR !== 0 || length > logLen) return undefined
  if (!head.subarray(32, 48).equals(guid)) return undefined
  const entry = Buffer.from(view(0, length))
  const crc = entry.readUInt32LE(4)
  entry.writeUInt32LE(0, 4)
  if (crc32c(entry) !== crc) return undefined
  const sequence = entry.readBigUInt64LE(16)
  const count = entry.readUInt32LE(24)
  const descSectors = Math.ceil((64 + count * 32) / SECTOR)
  if (descSectors * SECTOR > length) return undefined
  const writes: { offset: number; data: Buffer }[] = []
  let dataSector = descSectors
  for (let i = 0; i < count; i++) {
    const d = entry.subarray(64 + i * 32, 96 + i * 32)
    const sig = d.toString('latin1', 0, 4)
    if (d.readBigUInt64LE(24) !== sequence) return undefined
    const fileOffset = Number(d.readBigUInt64LE(16))
    if (sig === 'zero') {
      const zeroLength = Number(d.readBigUInt64LE(8))
      if (zeroLength % SECTOR !== 0 || zeroLength > 64 * MiB) return undefined
      writes.push({ offset: fileOffset, data: Buffer.alloc(zeroLength) })
    } else if (sig === 'desc') {
      if ((dataSector + 1) * SECTOR > length) return undefined
      const s = entry.subarray(dataSector * SECTOR, (dataSector + 1) * SECTOR)
      if (s.toString('latin1', 0, 4) !== 'data') return undefined
      if ((BigInt(s.readUInt32LE(4)) << 32n) + BigInt(s.readUInt32LE(4092)) !== sequence) return undefined
      const data = Buffer.alloc(SECTOR)
      d.copy(data, 0, 8, 16)
      s.copy(data, 8, 8, 4092)
      d.copy(data, 4092, 4, 8)
      writes.push({ offset: fileOffset, data })
      dataSector++
    } else return undefined
  }
  return { offset: at, length, tail: entry.readUInt32LE(12), sequence, lastFileOffset: Number(entry.readBigUInt64LE(56)), writes }
}

export async function replayVhdxLog(container: BlockSource, header: { logGuid: Buffer; logOffset: number; logLength: number }, signal?: AbortSignal): Promise<{ offset: number; data: Buffer }[]> {
  const label = container.label
  if (header.logLength === 0 || header.logLength % MiB !== 0 || header.logLength > 256 * MiB || header.logOffset % MiB !== 0) {
    throw new DiskFormatError('dirty-log', `${label}: the VHDX log must be replayed but its location is invalid; open the disk in Hyper-V to repair it`)
  }
  const log = await readStructure(container, header.logOffset, header.logLength, 'VHDX log', signal)
  const entries = new Map<number, LogEntry>()
  for (let at = 0; at < log.length; at += SECTOR) {
    const e = parseEntry(log, at, header.logGuid)
    if (e) entries.set(at, e)
  }
  let best: LogEntry[] | undefined
  for (const start of entries.values()) {
    signal?.throwIfAborted()
    const chain = [start]
    for (let cur = start; chain.length <= entries.size; ) {
      const next = entries.get((cur.offset + cur.length) % log.length)
      if (!next || next.sequence !== cur.sequence + 1n) break
      chain.push(next)
      cur = next
    }
    const head = chain[chain.length - 1]
    if (!head) continue
    const tailIndex = chain.findIndex((e) => e.offset === head.tail)
    if (tailIndex < 0) continue
    const active = chain.slice(tailIndex)
    const bestHead = best?.[best.length - 1]
    if (!bestHead || head.sequence > bestHead.sequence) best = active
  }
  if (!best) throw new DiskFormatError('dirty-log', `${label}: the VHDX log must be replayed but holds no valid entries (damaged); open the disk in Hyper-V to repair it`)
  const last = best[best.length - 1]
  if (last && last.lastFileOffset > container.size) {
    throw new DiskFormatError('truncated', `${label}: the VHDX log says the file should be at least ${last.lastFileOffset} bytes but it is ${container.size}`)
  }
  return best.flatMap((e) => e.writes)
}
