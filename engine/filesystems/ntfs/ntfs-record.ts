import { ByteView } from '../../disks/byte-view'
import { FilesystemError, corrupt } from '../errors'

/** MFT file records, update-sequence fixups, attribute headers and runlists (NTFS 3.x layout). */
export const ATTR_ATTRIBUTE_LIST = 0x20
export const ATTR_FILE_NAME = 0x30
export const ATTR_STANDARD_INFORMATION = 0x10
export const ATTR_DATA = 0x80
export const ATTR_INDEX_ROOT = 0x90
export const ATTR_INDEX_ALLOCATION = 0xa0
export const ATTR_REPARSE_POINT = 0xc0
export const ATTR_FLAG_COMPRESSED = 0x0001
export const ATTR_FLAG_ENCRYPTED = 0x4000
export const ATTR_FLAG_SPARSE = 0x8000

export interface NtfsRun {
  readonly vcn: number
  readonly clusters: number
  /** null: a sparse (unallocated) run. */
  readonly lcn: number | null
}

export interface NtfsAttr {
  readonly type: number
  readonly name: string
  readonly flags: number
  readonly id: number
  readonly resident: boolean
  readonly value: Buffer
  readonly startVcn: number
  readonly lastVcn: number
  readonly runs: readonly NtfsRun[]
  readonly realSize: number
  readonly allocatedSize: number
  readonly initializedSize: number
  readonly compressionUnit: number
}

export interface NtfsRecord {
  readonly inUse: boolean
  readonly isDirectory: boolean
  readonly baseRecord: number
  readonly attrs: NtfsAttr[]
}

/** Checks and undoes the update sequence array: the last two bytes of every 512-byte stride were swapped out. */
export function applyFixups(buf: Buffer, magic: string, label: string, what: string): Buffer {
  if (buf.toString('latin1', 0, 4) !== magic) throw new FilesystemError('corrupt', `${label}: ${what} has no "${magic}" signature`)
  const usaOffset = buf.readUInt16LE(4)
  const usaCount = buf.readUInt16LE(6)
  if (usaCount === 0 || usaOffset + usaCount * 2 > buf.length || (usaCount - 1) * 512 > buf.length) {
    throw new FilesystemError('corrupt', `${label}: ${what} has a damaged update sequence array`)
  }
  const out = Buffer.from(buf)
  const usn = out.readUInt16LE(usaOffset)
  for (let i = 1; i < usaCount; i++) {
    const end = i * 512 - 2
    if (out.readUInt16LE(end) !== usn) throw new FilesystemError('corrupt', `${label}: ${what} is torn (update sequence mismatch in sector ${i - 1})`)
    out.writeUInt16LE(out.readUInt16LE(usaOffset + i * 2), end)
  }
  return out
}

export function decodeRunlist(buf: Buffer, at: number, startVcn: number, label: string): NtfsRun[] {
  const runs: NtfsRun[] = []
  let vcn = startVcn
  let lcn = 0
  while (at < buf.length) {
    const header = buf[at] ?? 0
    if (header === 0) break
    const lenBytes = header & 0x0f
    const offBytes = header >> 4
    if (lenBytes === 0 || lenBytes > 8 || offBytes > 8 || at + 1 + lenBytes + offBytes > buf.length) {
      throw new FilesystemError('corrupt', `${label}: a data runlist is damaged`)
    }
    const clusters = buf.readUIntLE(at + 1, Math.min(lenBytes, 6))
    if (lenBytes > 6 && buf.subarray(at + 7, at + 1 + lenBytes).some((b) => b !== 0)) throw new FilesystemError('corrupt', `${label}: a data run is impossibly long`)
    let sparse = true
    if (offBytes > 0) {
      sparse = false
      if (offBytes > 6) throw new FilesystemError('corrupt', `${label}: a data run offset is impossibly large`)
      lcn += buf.readIntLE(at + 1 + lenBytes, offBytes)
      if (lcn < 0) throw new FilesystemError('corrupt', `${label}: a data run points before the start of the volume`)
    }
    if (clusters === 0) throw new FilesystemError('corrupt', `${label}: a data run has zero length`)
    runs.push({ vcn, clusters, lcn: sparse ? null : lcn })
    vcn += clusters
    if (runs.length > 1_000_000) throw new FilesystemError('too-large', `${label}: a runlist is implausibly long`)
    at += 1 + lenBytes + offBytes
  }
  return runs
}

export function parseRecord(buf: Buffer, label: string, recordNo: number): NtfsRecord {
  const what = `MFT record ${recordNo}`
  const rec = applyFixups(buf, 'FILE', label, what)
  const v = new ByteView(rec, corrupt(label), what)
  const flags = v.u16le(22)
  const used = Math.min(v.u32le(24), rec.length)
  const attrs: NtfsAttr[] = []
  let at = v.u16le(20)
  for (let i = 0; i < 512 && at + 8 <= used; i++) {
    const type = v.u32le(at)
    if (type === 0xffffffff) break
    const len = v.u32le(at + 4)
    if (len < 16 || len % 8 !== 0 || at + len > used) throw new FilesystemError('corrupt', `${label}: ${what} has a damaged attribute at byte ${at}`)
    const a = rec.subarray(at, at + len)
    const av = new ByteView(a, corrupt(label), `${what} attribute 0x${type.toString(16)}`)
    const nonResident = av.u8(8) !== 0
    const nameLen = av.u8(9)
    const name = nameLen ? av.utf16le(av.u16le(10), nameLen * 2) : ''
    const common = { type, name, flags: av.u16le(12), id: av.u16le(14) }
    if (!nonResident) {
      const valueLen = av.u32le(16)
      const value = av.bytes(av.u16le(20), valueLen)
      attrs.push({ ...common, resident: true, value, startVcn: 0, lastVcn: 0, runs: [], realSize: valueLen, allocatedSize: valueLen, initializedSize: valueLen, compressionUnit: 0 })
    } else {
      const startVcn = av.u64le(16)
      attrs.push({
        ...common,
        resident: false,
        value: Buffer.alloc(0),
        startVcn,
        lastVcn: av.u64le(24),
        runs: decodeRunlist(a, av.u16le(32), startVcn, label),
        compressionUnit: av.u8(34),
        allocatedSize: av.u64le(40),
        realSize: av.u64le(48),
        initializedSize: av.u64le(56),
      })
    }
    at += len
  }
  return { inUse: (flags & 1) !== 0, isDirectory: (flags & 2) !== 0, baseRecord: Number(v.big64le(32) & 0xffffffffffffn), attrs }
}

/** NTFS times are 100 ns ticks since 1601-01-01 UTC. */
export function ntfsTime(buf: Buffer, at: number): Date | undefined {
  if (at + 8 > buf.length) return undefined
  const t = buf.readBigUInt64LE(at)
  if (t === 0n) return undefined
  const ms = Number(t / 10000n) - 11644473600000
  return Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms) : undefined
}
