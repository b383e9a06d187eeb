import { FilesystemError } from '../errors'
import { applyFixups, ntfsTime } from './ntfs-record'

export interface NtfsIndexEntry {
  readonly record: number
  readonly name: string
  readonly namespace: number
  readonly flags: number
  readonly size: number
  readonly mtime: Date | undefined
}

const ENTRY_SUBNODE = 1
const ENTRY_LAST = 2

/** Parses the entries of one index node; returns the sub-node VCNs to visit. */
export function parseIndexEntries(buf: Buffer, headerAt: number, label: string, out: NtfsIndexEntry[]): number[] {
  const fail = (): FilesystemError => new FilesystemError('corrupt', `${label}: a directory index node is damaged`)
  if (headerAt + 16 > buf.length) throw fail()
  const first = headerAt + buf.readUInt32LE(headerAt)
  const end = Math.min(headerAt + buf.readUInt32LE(headerAt + 4), buf.length)
  const children: number[] = []
  let at = first
  for (let i = 0; i < 65536 && at + 16 <= end; i++) {
    const len = buf.readUInt16LE(at + 8)
    const keyLen = buf.readUInt16LE(at + 10)
    const flags = buf.readUInt16LE(at + 12)
    if (len < 16 || at + len > end || 16 + keyLen > len) throw fail()
    if (flags & ENTRY_SUBNODE) children.push(Number(buf.readBigUInt64LE(at + len - 8)))
    if (flags & ENTRY_LAST) break
    if (keyLen >= 66) {
      const key = buf.subarray(at + 16, at + 16 + keyLen)
      const nameLen = key[64] ?? 0
      if (66 + nameLen * 2 > key.length) throw fail()
      out.push({
        record: Number(buf.readBigUInt64LE(at) & 0xffffffffffffn),
        name: key.toString('utf16le', 66, 66 + nameLen * 2),
        namespace: key[65] ?? 0,
        flags: key.readUInt32LE(56),
        size: Number(key.readBigUInt64LE(48) & 0xffffffffffffn),
        mtime: ntfsTime(key, 16),
      })
    }
    at += len
  }
  return children
}

/** An INDX block from $INDEX_ALLOCATION: fixups, then a node header at byte 24. */
export function parseIndexBlock(raw: Buffer, label: string, out: NtfsIndexEntry[]): number[] {
  const block = applyFixups(raw, 'INDX', label, 'directory index block')
  return parseIndexEntries(block, 24, label, out)
}
