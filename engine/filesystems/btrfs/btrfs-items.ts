import { ByteView } from '../../disks/byte-view'
import { FilesystemError, corrupt } from '../errors'
import { typeFromMode } from '../ext/ext-inode'
import type { PosixInodeFacts } from '../types'
import { readKey, type Key } from './btrfs-tree'

export const INODE_ITEM = 1
export const DIR_ITEM = 84
export const DIR_INDEX = 96
export const EXTENT_DATA = 108
export const ROOT_ITEM = 132
export const ROOT_BACKREF = 144
export const ROOT_REF = 156

export type BtrfsInode = PosixInodeFacts

function time(v: ByteView, at: number): Date {
  const seconds = Number(v.buf.readBigInt64LE(at))
  return new Date(seconds * 1000 + Math.floor(v.u32le(at + 8) / 1e6))
}

export function parseInodeItem(data: Buffer, what: string, label: string): BtrfsInode {
  const v = new ByteView(data, corrupt(label), what)
  v.check(0, 160)
  const mode = v.u32le(52)
  const big = v.big64le(16)
  if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new FilesystemError('corrupt', `${label}: ${what} is ${big} bytes long`)
  return {
    type: typeFromMode(mode),
    size: Number(big),
    // Only an estimate for free-space checks: an absurd count is clamped rather than making the inode unreadable.
    allocated: Number(v.big64le(24) > 2n ** 50n ? 2n ** 50n : v.big64le(24)),
    nlink: v.u32le(40),
    uid: v.u32le(44),
    gid: v.u32le(48),
    mode,
    atime: time(v, 112),
    ctime: time(v, 124),
    mtime: time(v, 136),
    crtime: time(v, 148),
  }
}

export interface DirEntry {
  readonly name: string
  readonly location: Key
}

/** A DIR_INDEX item holds one entry (DIR_ITEMs may hold several with the same name hash). */
export function parseDirItems(data: Buffer, label: string): DirEntry[] {
  const out: DirEntry[] = []
  let at = 0
  while (at < data.length) {
    if (at + 30 > data.length) throw new FilesystemError('corrupt', `${label}: a btrfs directory entry is truncated`)
    const location = readKey(data, at)
    const dataLen = data.readUInt16LE(at + 25)
    const nameLen = data.readUInt16LE(at + 27)
    if (nameLen === 0 || nameLen > 255 || at + 30 + nameLen + dataLen > data.length) throw new FilesystemError('corrupt', `${label}: a btrfs directory entry is damaged`)
    out.push({ name: data.toString('utf8', at + 30, at + 30 + nameLen), location })
    at += 30 + nameLen + dataLen
  }
  return out
}

export const COMPRESS_NONE = 0
export const COMPRESS_ZLIB = 1
export const COMPRESS_LZO = 2
export const COMPRESS_ZSTD = 3

export type FileExtent =
  | { readonly kind: 'inline'; readonly fileOffset: number; readonly compression: number; readonly ramBytes: number; readonly data: Buffer }
  | {
      readonly kind: 'regular' | 'prealloc'
      readonly fileOffset: number
      readonly compression: number
      readonly ramBytes: number
      readonly diskBytenr: number
      readonly diskNumBytes: number
      readonly offset: number
      readonly numBytes: number
    }

export function parseExtentData(key: Key, data: Buffer, what: string, label: string): FileExtent {
  const v = new ByteView(data, corrupt(label), what)
  if (key.offset > BigInt(Number.MAX_SAFE_INTEGER)) throw new FilesystemError('corrupt', `${label}: ${what} starts at an impossible offset`)
  const fileOffset = Number(key.offset)
  const ramBytes = v.u64le(8)
  const compression = v.u8(16)
  if (v.u8(17) !== 0 || v.u16le(18) !== 0) throw new FilesystemError('unsupported', `${label}: ${what} is encrypted or encoded, which this reader does not support`)
  if (compression > COMPRESS_ZSTD) throw new FilesystemError('unsupported', `${label}: ${what} uses unknown compression ${compression}`)
  const type = v.u8(20)
  if (type === 0) return { kind: 'inline', fileOffset, compression, ramBytes, data: v.bytes(21, data.length - 21) }
  if (type !== 1 && type !== 2) throw new FilesystemError('corrupt', `${label}: ${what} has unknown type ${type}`)
  const e = {
    kind: type === 1 ? ('regular' as const) : ('prealloc' as const),
    fileOffset,
    compression,
    ramBytes,
    diskBytenr: v.u64le(21),
    diskNumBytes: v.u64le(29),
    offset: v.u64le(37),
    numBytes: v.u64le(45),
  }
  if (!Number.isSafeInteger(fileOffset + e.numBytes) || !Number.isSafeInteger(e.diskBytenr + e.diskNumBytes) || !Number.isSafeInteger(e.offset + e.numBytes)) {
    throw new FilesystemError('corrupt', `${label}: ${what} has impossible sizes`)
  }
  return e
}

export interface RootItem {
  readonly bytenr: number
  readonly level: number
  readonly generation: bigint
  readonly rootDirid: bigint
}

export function parseRootItem(data: Buffer, what: string, label: string): RootItem {
  const v = new ByteView(data, corrupt(label), what)
  return { generation: v.big64le(160), rootDirid: v.big64le(168), bytenr: v.u64le(176), level: v.u8(238) }
}

/** ROOT_BACKREF: the directory of the parent subvolume holding this one, and its name there. */
export function parseRootRef(data: Buffer, what: string, label: string): { readonly dirid: bigint; readonly name: string } {
  const v = new ByteView(data, corrupt(label), what)
  const len = v.u16le(16)
  return { dirid: v.big64le(0), name: v.bytes(18, len).toString('utf8') }
}
