import { FilesystemError } from '../errors'

export interface XfsDirent {
  readonly name: string
  readonly ino: bigint
}

/** Short-form directory: the whole directory inside the inode's data fork. */
export function parseShortformDir(fork: Buffer, ftype: boolean, label: string): XfsDirent[] {
  const fail = (): FilesystemError => new FilesystemError('corrupt', `${label}: a short-form XFS directory is damaged`)
  if (fork.length < 6) throw fail()
  const count = fork[0] ?? 0
  const i8 = fork[1] ?? 0
  const inoSize = i8 ? 8 : 4
  let at = 2 + inoSize
  const out: XfsDirent[] = []
  for (let i = 0; i < (i8 ? i8 : count); i++) {
    const nameLen = fork[at] ?? 0
    const nameAt = at + 3
    const inoAt = nameAt + nameLen + (ftype ? 1 : 0)
    if (nameLen === 0 || inoAt + inoSize > fork.length) throw fail()
    const ino = inoSize === 8 ? fork.readBigUInt64BE(inoAt) & ((1n << 56n) - 1n) : BigInt(fork.readUInt32BE(inoAt))
    out.push({ name: fork.toString('utf8', nameAt, nameAt + nameLen), ino })
    at = inoAt + inoSize
  }
  return out
}

/**
 * One directory data block ("XD2B"/"XDB3" single-block form or "XD2D"/"XDD3" data blocks of leaf, node and
 * B+tree directories). Blocks of other kinds (leaf, free index) and holes are ignored.
 */
export function parseDataBlock(block: Buffer, ftype: boolean, label: string, out: XfsDirent[]): void {
  if (block.length < 16) return
  const magic = block.toString('latin1', 0, 4)
  const hdr = magic === 'XDB3' || magic === 'XDD3' ? 64 : magic === 'XD2B' || magic === 'XD2D' ? 16 : 0
  if (hdr === 0) return
  let end = block.length
  if (magic === 'XDB3' || magic === 'XD2B') {
    const count = block.readUInt32BE(block.length - 8)
    end = block.length - 8 - count * 8
    if (end < hdr) throw new FilesystemError('corrupt', `${label}: an XFS directory block has an impossible leaf count`)
  }
  let at = hdr
  while (at + 8 <= end) {
    if (block.readUInt16BE(at) === 0xffff) {
      const len = block.readUInt16BE(at + 2)
      if (len < 8 || len % 8 !== 0) throw new FilesystemError('corrupt', `${label}: an XFS directory block has a damaged free entry`)
      at += len
      continue
    }
    if (at + 12 > end) break
    const ino = block.readBigUInt64BE(at)
    const nameLen = block[at + 8] ?? 0
    const size = Math.ceil((8 + 1 + nameLen + (ftype ? 1 : 0) + 2) / 8) * 8
    if (nameLen === 0 || at + size > end) throw new FilesystemError('corrupt', `${label}: an XFS directory entry is damaged`)
    const name = block.toString('utf8', at + 9, at + 9 + nameLen)
    if (name !== '.' && name !== '..') out.push({ name, ino })
    at += size
  }
}
