import { mkdtemp, open, rm } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import path from 'node:path'

export const MiB = 1024 * 1024

export type BlockKind = 'zero' | 'random' | 'text'

const WORDS = 'lorem ipsum dolor sit amet backup restore chunk repository lifeboat virtual machine disk sector cluster'.split(' ')

/** Compressible, non-repeating text (so dedup cannot cheat): words chosen by a seeded generator. */
export function textBlock(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length)
  let x = seed * 2654435761 + 1
  let at = 0
  while (at < length) {
    x = (x * 1103515245 + 12345) >>> 0
    const word = WORDS[x % WORDS.length] ?? 'x'
    at += out.write(`${word}${x % 7 === 0 ? '\n' : ' '}`, at, 'latin1')
  }
  return out
}

/**
 * Writes an image made of `blockSize` blocks of the given kinds (cycling through `pattern`), plus `tail` extra
 * bytes of text so sizes that are not a chunk multiple are covered.
 */
export async function writeMixedImage(file: string, options: { blocks: number; blockSize: number; pattern: readonly BlockKind[]; tail?: number; seed?: number }): Promise<number> {
  const handle = await open(file, 'w')
  let position = 0
  try {
    for (let b = 0; b < options.blocks; b++) {
      const kind = options.pattern[b % options.pattern.length] ?? 'zero'
      const buf = kind === 'zero' ? Buffer.alloc(options.blockSize) : kind === 'random' ? randomBytes(options.blockSize) : textBlock(options.blockSize, (options.seed ?? 0) * 100_003 + b)
      await handle.write(buf, 0, buf.length, position)
      position += buf.length
    }
    if ((options.tail ?? 0) > 0) {
      const buf = textBlock(options.tail ?? 0, 999)
      await handle.write(buf, 0, buf.length, position)
      position += buf.length
    }
  } finally {
    await handle.close()
  }
  return position
}

export async function withTempDir<T>(prefix: string, run: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), `lifeboat-${prefix}-`))
  try {
    return await run(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Overwrites `length` bytes at `offset` of a file in place. */
export async function patchFile(file: string, offset: number, data: Buffer): Promise<void> {
  const handle = await open(file, 'r+')
  try {
    await handle.write(data, 0, data.length, offset)
  } finally {
    await handle.close()
  }
}
