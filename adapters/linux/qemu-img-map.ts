import { z } from 'zod'

interface Range {
  readonly offset: number
  readonly length: number
}

/** A map of more extents than this is not worth its parsing (a badly fragmented file): the file is read whole. */
const MAX_MAP_ENTRIES = 200_000

const MapEntry = z.object({ start: z.number(), length: z.number(), zero: z.boolean(), data: z.boolean() })

/**
 * Parses `qemu-img map --output=json` of a raw file into its data ranges, or says why the answer cannot be
 * believed. The map must tile [0, size) exactly, in order: a wrong "hole" would silently lose data, so anything
 * else (gaps, overlaps, unsafe numbers, too many entries) is not used at all.
 */
export function parseQemuImgMap(text: string, size: number): { ranges: Range[] } | { reason: string } {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return { reason: 'qemu-img map printed something that is not JSON' }
  }
  if (!Array.isArray(json)) return { reason: 'qemu-img map did not print a list' }
  if (json.length > MAX_MAP_ENTRIES) return { reason: `qemu-img map listed more than ${MAX_MAP_ENTRIES} extents` }
  // qemu-img works in 512-byte sectors: the map of a file whose size is not a multiple of 512 ends at the next one.
  const mapEnd = Math.ceil(size / 512) * 512
  const ranges: Range[] = []
  let expected = 0
  for (const item of json) {
    const parsed = MapEntry.safeParse(item)
    if (!parsed.success) return { reason: 'qemu-img map listed an extent without start, length, zero and data' }
    const e = parsed.data
    if (!Number.isSafeInteger(e.start) || !Number.isSafeInteger(e.length) || e.length < 0) return { reason: 'qemu-img map listed an extent with impossible numbers' }
    if (e.start !== expected) return { reason: `qemu-img map's extents do not follow each other (at byte ${expected})` }
    if (e.start + e.length > mapEnd) return { reason: 'qemu-img map listed an extent past the end of the file' }
    expected += e.length
    const length = Math.min(e.length, size - e.start)
    // Only "reads as zero" is trusted as a hole; anything else (data, or neither) is read.
    if (e.zero || length <= 0) continue
    const last = ranges.at(-1)
    if (last !== undefined && last.offset + last.length === e.start) ranges[ranges.length - 1] = { offset: last.offset, length: last.length + length }
    else ranges.push({ offset: e.start, length })
  }
  if (expected < size || expected > mapEnd) return { reason: `qemu-img map covered ${expected} of the file's ${size} bytes` }
  return { ranges }
}

