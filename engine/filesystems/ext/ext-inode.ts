import { ByteView } from '../../disks/byte-view'
import { corrupt } from '../errors'
import type { EntryType } from '../types'
import type { ExtSuperblock } from './ext-superblock'

export const FLAG_ENCRYPT = 0x800
export const FLAG_HUGE_FILE = 0x40000
export const FLAG_EXTENTS = 0x80000
export const FLAG_INLINE_DATA = 0x10000000

export interface ExtInode {
  readonly ino: number
  readonly mode: number
  readonly type: EntryType
  readonly uid: number
  readonly gid: number
  readonly size: number
  readonly links: number
  readonly flags: number
  readonly blocks512: number
  readonly fileAcl: number
  readonly iBlock: Buffer
  readonly atime: Date
  readonly mtime: Date
  readonly ctime: Date
  readonly crtime?: Date
  /** The in-inode extended attribute area (after i_extra_isize), for inline data. */
  readonly xattrs: Buffer
}

export function typeFromMode(mode: number): EntryType {
  switch (mode & 0o170000) {
    case 0o100000:
      return 'file'
    case 0o040000:
      return 'directory'
    case 0o120000:
      return 'symlink'
    case 0o060000:
      return 'block-device'
    case 0o020000:
      return 'char-device'
    case 0o010000:
      return 'fifo'
    case 0o140000:
      return 'socket'
    default:
      return 'other'
  }
}

/** ext4 times: signed 32-bit seconds, extended by two epoch bits and nanoseconds in the *_extra fields. */
function extTime(v: ByteView, at: number, extraAt: number | undefined): Date {
  const seconds = v.buf.readInt32LE(at)
  if (extraAt === undefined) return new Date(seconds * 1000)
  const extra = v.u32le(extraAt)
  const full = seconds + (extra & 3) * 2 ** 32
  return new Date(full * 1000 + Math.floor((extra >>> 2) / 1e6))
}

export function parseExtInode(buf: Buffer, ino: number, sb: ExtSuperblock, label: string): ExtInode {
  const v = new ByteView(buf, corrupt(label), `inode ${ino}`)
  v.check(0, 128)
  const mode = v.u16le(0)
  const type = typeFromMode(mode)
  const flags = v.u32le(32)
  const sizeHigh = v.u32le(108)
  const size = v.u32le(4) + sizeHigh * 2 ** 32
  const extra = buf.length > 128 ? v.u16le(128) : 0
  const hasExtra = (f: number): boolean => extra >= f + 4 - 128 && buf.length >= f + 4
  let blocks512 = v.u32le(28) + v.u16le(116) * 2 ** 32
  if (sb.hugeFile && flags & FLAG_HUGE_FILE) blocks512 *= sb.blockSize / 512
  const crtime = hasExtra(148) ? extTime(v, 144, 148) : undefined
  return {
    ino,
    mode,
    type,
    uid: v.u16le(2) | (v.u16le(120) << 16),
    gid: v.u16le(24) | (v.u16le(122) << 16),
    size: Number.isSafeInteger(size) ? size : 0,
    links: v.u16le(26),
    flags,
    blocks512,
    fileAcl: v.u32le(104) + v.u16le(118) * 2 ** 32,
    iBlock: v.bytes(40, 60),
    atime: extTime(v, 8, hasExtra(140) ? 140 : undefined),
    ctime: extTime(v, 12, hasExtra(132) ? 132 : undefined),
    mtime: extTime(v, 16, hasExtra(136) ? 136 : undefined),
    ...(crtime ? { crtime } : {}),
    xattrs: buf.length > 128 + extra ? buf.subarray(128 + extra) : Buffer.alloc(0),
  }
}

/**
 * Finds the value of an in-inode extended attribute (used for "system.data", the tail of inline data).
 * The area starts with a magic, then entries; values are offsets from the first entry.
 */
export function findInodeXattr(xattrs: Buffer, nameIndex: number, name: string): Buffer | undefined {
  if (xattrs.length < 8 || xattrs.readUInt32LE(0) !== 0xea020000) return undefined
  const base = 4
  let at = base
  for (let i = 0; i < 1024 && at + 16 <= xattrs.length; i++) {
    const nameLen = xattrs[at] ?? 0
    if (nameLen === 0 && xattrs.readUInt32LE(at) === 0) break
    const index = xattrs[at + 1] ?? 0
    const valueOffs = xattrs.readUInt16LE(at + 2)
    const valueInum = xattrs.readUInt32LE(at + 4)
    const valueSize = xattrs.readUInt32LE(at + 8)
    if (at + 16 + nameLen > xattrs.length) break
    const entryName = xattrs.toString('latin1', at + 16, at + 16 + nameLen)
    if (index === nameIndex && entryName === name && valueInum === 0) {
      const from = base + valueOffs
      if (from + valueSize > xattrs.length) return undefined
      return xattrs.subarray(from, from + valueSize)
    }
    at += (16 + nameLen + 3) & ~3
  }
  return undefined
}
