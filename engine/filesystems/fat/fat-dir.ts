/** FAT directory entries, with VFAT long names assembled and checked against their short-name checksum. */
export interface FatDirent {
  readonly name: string
  readonly shortName: string
  readonly attr: number
  readonly firstCluster: number
  readonly size: number
  readonly mtime: Date | undefined
  readonly ctime: Date | undefined
  readonly atime: Date | undefined
}

export const ATTR_VOLUME = 0x08
export const ATTR_DIRECTORY = 0x10
const ATTR_LFN = 0x0f

function shortChecksum(raw: Buffer): number {
  let sum = 0
  for (let i = 0; i < 11; i++) sum = (((sum & 1) << 7) + (sum >> 1) + (raw[i] ?? 0)) & 0xff
  return sum
}

/** FAT stores local time without a zone; it is reported as if it were UTC. */
function fatTime(date: number, time: number, tenths = 0): Date | undefined {
  if (date === 0) return undefined
  const d = Date.UTC(1980 + (date >> 9), ((date >> 5) & 15) - 1, date & 31, time >> 11, (time >> 5) & 63, (time & 31) * 2)
  return Number.isNaN(d) ? undefined : new Date(d + tenths * 10)
}

/** Short names are in the OEM code page; 437 (US) is what Windows and mtools use by default. */
const CP437_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0'

function cp437(bytes: Buffer): string {
  let s = ''
  for (const b of bytes) s += b < 0x80 ? String.fromCharCode(b) : CP437_HIGH.charAt(b - 0x80)
  return s
}

function decodeShort(raw: Buffer, ntFlags: number): string {
  const first = raw[0] === 0x05 ? Buffer.from([0xe5, ...raw.subarray(1, 8)]) : raw.subarray(0, 8)
  let base = cp437(first).trimEnd()
  let ext = cp437(raw.subarray(8, 11)).trimEnd()
  if (ntFlags & 0x08) base = base.toLowerCase()
  if (ntFlags & 0x10) ext = ext.toLowerCase()
  return ext ? `${base}.${ext}` : base
}

/** Parses directory bytes; returns entries and whether the end marker was reached (the rest is unused). */
export function parseFatDir(buf: Buffer, out: FatDirent[]): boolean {
  let lfn: string[] = []
  let lfnChecksum = -1
  let expectedOrd = 0
  for (let at = 0; at + 32 <= buf.length; at += 32) {
    const first = buf[at] ?? 0
    if (first === 0x00) return true
    const attr = buf[at + 11] ?? 0
    if (first === 0xe5) {
      lfn = []
      continue
    }
    if ((attr & 0x3f) === ATTR_LFN) {
      const ord = first & 0x3f
      if (first & 0x40) {
        lfn = []
        expectedOrd = ord
        lfnChecksum = buf[at + 13] ?? 0
      } else if (ord !== expectedOrd || (buf[at + 13] ?? 0) !== lfnChecksum) {
        lfn = []
        expectedOrd = 0
        continue
      }
      if (ord === 0 || ord > 20) {
        lfn = []
        continue
      }
      const part = Buffer.concat([buf.subarray(at + 1, at + 11), buf.subarray(at + 14, at + 26), buf.subarray(at + 28, at + 32)]).toString('utf16le')
      lfn[ord - 1] = part
      expectedOrd = ord - 1
      continue
    }
    const raw = buf.subarray(at, at + 11)
    const shortName = decodeShort(raw, buf[at + 12] ?? 0)
    let name = shortName
    if (lfn.length > 0 && expectedOrd === 0 && shortChecksum(raw) === lfnChecksum) {
      const joined = lfn.join('')
      const end = joined.indexOf('\0')
      name = end >= 0 ? joined.slice(0, end) : joined
    }
    lfn = []
    if (attr & ATTR_VOLUME) continue
    if (shortName === '.' || shortName === '..') continue
    out.push({
      name,
      shortName,
      attr,
      firstCluster: (buf.readUInt16LE(at + 20) << 16) | buf.readUInt16LE(at + 26),
      size: buf.readUInt32LE(at + 28),
      mtime: fatTime(buf.readUInt16LE(at + 24), buf.readUInt16LE(at + 22)),
      ctime: fatTime(buf.readUInt16LE(at + 16), buf.readUInt16LE(at + 14), buf[at + 13] ?? 0),
      atime: fatTime(buf.readUInt16LE(at + 18), 0),
    })
  }
  return false
}

/** The volume label stored as a root directory entry: 11 bytes in the OEM code page, like a short name. */
export function findVolumeLabel(buf: Buffer): string | undefined {
  for (let at = 0; at + 32 <= buf.length; at += 32) {
    const first = buf[at] ?? 0
    if (first === 0) return undefined
    const attr = buf[at + 11] ?? 0
    if (first !== 0xe5 && (attr & 0x3f) !== ATTR_LFN && attr & ATTR_VOLUME) return labelText(buf.subarray(at, at + 11))
  }
  return undefined
}

/** A label's bytes as text; a first byte 0x05 stands for 0xE5 there too (0xE5 marks a deleted entry). */
export function labelText(raw: Buffer): string {
  return cp437(raw[0] === 0x05 ? Buffer.from([0xe5, ...raw.subarray(1)]) : raw).trimEnd()
}
