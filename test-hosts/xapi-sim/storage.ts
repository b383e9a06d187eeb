import { createCipheriv, createHash } from 'node:crypto'
import { constants } from 'node:fs'
import { copyFile, mkdir, open, rm, stat, truncate } from 'node:fs/promises'
import path from 'node:path'

export const CBT_BLOCK = 64 * 1024
const COPY_BLOCK = 1024 * 1024

/** Deterministic "random" bytes for a seed: AES-256-CTR keystream, so a test can recompute any range. */
export function knownBytes(seed: string, offset: number, length: number): Buffer {
  const key = createHash('sha256').update(`lifeboat-xapi-sim:${seed}`).digest()
  const startBlock = Math.floor(offset / 16)
  const iv = Buffer.alloc(16)
  iv.writeBigUInt64BE(BigInt(startBlock), 8)
  const cipher = createCipheriv('aes-256-ctr', key, iv)
  const skip = offset - startBlock * 16
  const out = cipher.update(Buffer.alloc(length + skip))
  return out.subarray(skip)
}

const WORDS = 'the quick brown fox jumps over lazy dog backup restore chunk disk sector cluster virtual machine pool storage network kernel driver'.split(' ')

/**
 * A disk that looks like a used one: each MiB is zeros, random bytes or log-like text (a third each, chosen by the
 * seed), so compression and zero detection see what they would on a real disk. Deterministic for a seed.
 */
export function mixedBytes(seed: string, offset: number, length: number): Buffer {
  const out = Buffer.alloc(length)
  for (let at = offset - (offset % COPY_BLOCK); at < offset + length; at += COPY_BLOCK) {
    const index = at / COPY_BLOCK
    const kind = createHash('sha256').update(`${seed}:${index}`).digest()[0] ?? 0
    let block: Buffer
    if (kind % 3 === 0) continue
    if (kind % 3 === 1) block = knownBytes(seed, at, COPY_BLOCK)
    else {
      const rnd = knownBytes(`${seed}:text`, at, COPY_BLOCK / 4)
      const lines: string[] = []
      let size = 0
      for (let i = 0; size < COPY_BLOCK; i++) {
        const line = `${index}.${i} ${WORDS.map((_, w) => WORDS[((rnd[(i * 7 + w) % rnd.length] ?? 0) + w) % WORDS.length]).slice(0, 6 + (i % 9)).join(' ')}\n`
        lines.push(line)
        size += line.length
      }
      block = Buffer.from(lines.join(''), 'latin1').subarray(0, COPY_BLOCK)
    }
    const from = Math.max(offset, at)
    const to = Math.min(offset + length, at + COPY_BLOCK)
    block.copy(out, from - offset, from - at, to - at)
  }
  return out
}

export type Content = 'random' | 'mixed'

/**
 * The bytes of every VDI: one raw file per VDI, named by its uuid, in the data folder. Snapshots and clones are
 * copies made with a copy-on-write clone where the filesystem offers one (FICLONE), else sparse copies.
 * Changed block tracking keeps a digest of every 64 KiB block per tracked VDI, taken when it is snapshotted.
 */
export class Storage {
  private readonly cbt = new Map<string, { chain: string; digests: Buffer }>()

  constructor(readonly dir: string) {}

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true })
  }

  path(uuid: string): string {
    if (!/^[0-9a-f-]{36}$/.test(uuid)) throw new Error(`bad VDI uuid ${uuid}`)
    return path.join(this.dir, uuid)
  }

  async create(uuid: string, size: number): Promise<void> {
    const fh = await open(this.path(uuid), 'wx')
    await fh.close()
    await truncate(this.path(uuid), size)
  }

  /** Fills the VDI with the known bytes of `seed` (what `--vm NAME` disks hold). */
  async fillKnown(uuid: string, seed: string, size: number, content: Content = 'random'): Promise<void> {
    const fh = await open(this.path(uuid), 'r+')
    try {
      for (let at = 0; at < size; at += COPY_BLOCK) {
        const len = Math.min(COPY_BLOCK, size - at)
        const data = content === 'mixed' ? mixedBytes(seed, at, len) : knownBytes(seed, at, len)
        if (content === 'random' || data.some((b) => b !== 0)) await fh.write(data, 0, len, at)
      }
    } finally {
      await fh.close()
    }
  }

  exists(uuid: string): Promise<boolean> {
    return stat(this.path(uuid)).then(
      () => true,
      () => false,
    )
  }

  async size(uuid: string): Promise<number> {
    return (await stat(this.path(uuid))).size
  }

  async clone(from: string, to: string): Promise<void> {
    try {
      await copyFile(this.path(from), this.path(to), constants.COPYFILE_FICLONE_FORCE)
      return
    } catch {
      // No reflinks here: a sparse copy (all-zero megabytes stay holes).
    }
    const src = await open(this.path(from), 'r')
    const dst = await open(this.path(to), 'wx')
    try {
      const size = (await src.stat()).size
      const buf = Buffer.alloc(COPY_BLOCK)
      for (let at = 0; at < size; at += COPY_BLOCK) {
        const len = Math.min(COPY_BLOCK, size - at)
        const { bytesRead } = await src.read(buf, 0, len, at)
        const data = buf.subarray(0, bytesRead)
        if (data.some((b) => b !== 0)) await dst.write(data, 0, bytesRead, at)
      }
      await dst.truncate(size)
    } finally {
      await src.close()
      await dst.close()
    }
  }

  async remove(uuid: string): Promise<void> {
    await rm(this.path(uuid), { force: true })
  }

  async read(uuid: string, offset: number, length: number): Promise<Buffer> {
    const fh = await open(this.path(uuid), 'r')
    try {
      const buf = Buffer.alloc(length)
      const { bytesRead } = await fh.read(buf, 0, length, offset)
      return bytesRead === length ? buf : buf.subarray(0, bytesRead)
    } finally {
      await fh.close()
    }
  }

  async write(uuid: string, offset: number, data: Buffer): Promise<void> {
    const fh = await open(this.path(uuid), 'r+')
    try {
      await fh.write(data, 0, data.length, offset)
    } finally {
      await fh.close()
    }
  }

  async digests(uuid: string): Promise<Buffer> {
    const fh = await open(this.path(uuid), 'r')
    try {
      const size = (await fh.stat()).size
      const blocks = Math.ceil(size / CBT_BLOCK)
      const out = Buffer.alloc(blocks * 8)
      const buf = Buffer.alloc(COPY_BLOCK)
      for (let at = 0; at < size; at += COPY_BLOCK) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(COPY_BLOCK, size - at), at)
        for (let o = 0; o < bytesRead; o += CBT_BLOCK) {
          createHash('md5').update(buf.subarray(o, Math.min(bytesRead, o + CBT_BLOCK))).digest().copy(out, ((at + o) / CBT_BLOCK) * 8, 0, 8)
        }
      }
      return out
    } finally {
      await fh.close()
    }
  }

  /** Records the CBT state of a VDI (its chain id and block digests now). */
  async trackNow(uuid: string, chain: string): Promise<void> {
    this.cbt.set(uuid, { chain, digests: await this.digests(uuid) })
  }

  cbtOf(uuid: string): { chain: string; digests: Buffer } | undefined {
    return this.cbt.get(uuid)
  }

  forgetCbt(uuid: string): void {
    this.cbt.delete(uuid)
  }

  /** Bitmap (MSB first, one bit per 64 KiB block) of the blocks whose digests differ. */
  static changedBitmap(from: Buffer, to: Buffer): Buffer {
    const blocks = Math.max(from.length, to.length) / 8
    const bitmap = Buffer.alloc(Math.ceil(blocks / 8))
    for (let i = 0; i < blocks; i++) {
      const a = from.subarray(i * 8, i * 8 + 8)
      const b = to.subarray(i * 8, i * 8 + 8)
      if (a.length !== 8 || !a.equals(b)) bitmap[i >> 3] = (bitmap[i >> 3] ?? 0) | (0x80 >> (i & 7))
    }
    return bitmap
  }
}
