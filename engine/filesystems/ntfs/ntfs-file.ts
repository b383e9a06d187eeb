import { FilesystemError } from '../errors'
import { ATTR_ATTRIBUTE_LIST, parseRecord, type NtfsAttr, type NtfsRecord } from './ntfs-record'

export interface NtfsFile {
  readonly record: number
  readonly isDirectory: boolean
  /** Attributes from the base record and every extension record, multi-extent ones merged by (type, name). */
  readonly attrs: readonly NtfsAttr[]
}

export type RecordLoader = (record: number) => Promise<Buffer>

const MAX_EXTENSION_RECORDS = 4096

/**
 * Loads a file's attributes. When an $ATTRIBUTE_LIST is present the attributes are spread over extension
 * records (heavily fragmented or very linked files); each is loaded once and checked to belong to this file.
 */
export async function loadFile(recordNo: number, load: RecordLoader, readAttrValue: (a: NtfsAttr) => Promise<Buffer>, label: string): Promise<NtfsFile> {
  const base = parseRecord(await load(recordNo), label, recordNo)
  if (!base.inUse) throw new FilesystemError('not-found', `${label}: MFT record ${recordNo} is not in use (deleted file)`, { record: recordNo })
  let all = base.attrs
  const list = base.attrs.find((a) => a.type === ATTR_ATTRIBUTE_LIST)
  if (list) {
    const value = await readAttrValue(list)
    const records = new Set<number>()
    for (let at = 0; at + 26 <= value.length; ) {
      const len = value.readUInt16LE(at + 4)
      if (len < 26) break
      const ref = Number(value.readBigUInt64LE(at + 16) & 0xffffffffffffn)
      if (ref !== recordNo) records.add(ref)
      if (records.size > MAX_EXTENSION_RECORDS) throw new FilesystemError('too-large', `${label}: MFT record ${recordNo} has too many extension records`)
      at += len
    }
    all = base.attrs.filter((a) => a.type !== ATTR_ATTRIBUTE_LIST)
    for (const r of records) {
      const ext: NtfsRecord = parseRecord(await load(r), label, r)
      if (ext.baseRecord !== recordNo) throw new FilesystemError('corrupt', `${label}: MFT record ${r} is listed as part of record ${recordNo} but belongs elsewhere`)
      all = all.concat(ext.attrs)
    }
  }
  return { record: recordNo, isDirectory: base.isDirectory, attrs: mergeExtents(all) }
}

function mergeExtents(attrs: readonly NtfsAttr[]): NtfsAttr[] {
  const groups = new Map<string, NtfsAttr[]>()
  const out: NtfsAttr[] = []
  for (const a of attrs) {
    if (a.resident) {
      out.push(a)
      continue
    }
    const k = `${a.type}:${a.name}`
    const g = groups.get(k)
    if (g) g.push(a)
    else groups.set(k, [a])
  }
  for (const g of groups.values()) {
    g.sort((x, y) => x.startVcn - y.startVcn)
    const first = g[0]
    if (!first) continue
    out.push(g.length === 1 ? first : { ...first, lastVcn: g[g.length - 1]?.lastVcn ?? first.lastVcn, runs: g.flatMap((a) => a.runs) })
  }
  return out
}
