import { open } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'

const MiB = 1024 * 1024
const WORDS = 'the quick brown fox jumps over lazy dog backup restore chunk disk sector cluster virtual machine lifeboat host pool storage network kernel driver'.split(' ')

/** Deterministic generator (xorshift32), fast enough to make hundreds of MiB of text. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x
  }
}

/** Log-like text: numbered lines of words, never repeating, compressing roughly like real text (3–5×). */
function textMiB(next: () => number, lineNo: { n: number }): Buffer {
  const parts: string[] = []
  let length = 0
  while (length < MiB) {
    const words = 6 + (next() % 10)
    let line = `${lineNo.n++} ${(next() % 100000).toString(16)}`
    for (let w = 0; w < words; w++) line += ` ${WORDS[next() % WORDS.length] ?? ''}`
    line += '\n'
    parts.push(line)
    length += line.length
  }
  return Buffer.from(parts.join(''), 'latin1').subarray(0, MiB)
}

export type Kind = 'zero' | 'random' | 'text'

/**
 * A mixed image of `sizeMiB` MiB: runs of 1–16 MiB of zeros, random bytes and text in roughly equal shares,
 * at offsets that do not line up with 4 MiB chunks (so some chunks are mixed), deterministic for a seed.
 */
export async function writeBenchImage(file: string, sizeMiB: number, seed = 42): Promise<Kind[]> {
  const next = rng(seed)
  const handle = await open(file, 'w')
  const kinds: Kind[] = []
  const lineNo = { n: 0 }
  const zero = Buffer.alloc(MiB)
  try {
    let mib = 0
    while (mib < sizeMiB) {
      const kind: Kind = (['zero', 'random', 'text'] as const)[next() % 3] ?? 'zero'
      const run = Math.min(sizeMiB - mib, 1 + (next() % 16))
      for (let i = 0; i < run; i++) {
        const buf = kind === 'zero' ? zero : kind === 'random' ? randomBytes(MiB) : textMiB(next, lineNo)
        await handle.write(buf, 0, MiB, mib * MiB)
        kinds.push(kind)
        mib++
      }
    }
  } finally {
    await handle.close()
  }
  return kinds
}

/**
 * Changes `percent` % of the image's 1 MiB blocks (64 KiB of new random bytes inside each), deterministically.
 * Returns a function that puts the original bytes back, so a benchmark can repeat its rounds on the same image.
 */
export async function changeBlocks(file: string, sizeMiB: number, percent: number, seed = 7): Promise<{ count: number; revert: () => Promise<void> }> {
  const next = rng(seed)
  const count = Math.max(1, Math.round((sizeMiB * percent) / 100))
  const chosen = new Set<number>()
  while (chosen.size < count) chosen.add(next() % sizeMiB)
  const saved: { offset: number; data: Buffer }[] = []
  const handle = await open(file, 'r+')
  try {
    for (const block of chosen) {
      const offset = block * MiB + (next() % 15) * 64 * 1024
      const old = Buffer.alloc(64 * 1024)
      await handle.read(old, 0, old.length, offset)
      saved.push({ offset, data: old })
      await handle.write(randomBytes(64 * 1024), 0, 64 * 1024, offset)
    }
  } finally {
    await handle.close()
  }
  const revert = async (): Promise<void> => {
    const h = await open(file, 'r+')
    try {
      for (const { offset, data } of saved) await h.write(data, 0, data.length, offset)
    } finally {
      await h.close()
    }
  }
  return { count, revert }
}

/**
 * An image of 1 MiB blocks in the given shares (e.g. 40 % zeros written as data, 30 % random, 30 % text), in runs of
 * 1–16 MiB whose kind is drawn by what is left of each share, deterministic for a seed.
 */
export async function writeShareImage(file: string, sizeMiB: number, shares: Readonly<Record<Kind, number>>, seed = 43): Promise<void> {
  const next = rng(seed)
  const total = shares.zero + shares.random + shares.text
  const left: Record<Kind, number> = {
    zero: Math.round((sizeMiB * shares.zero) / total),
    random: Math.round((sizeMiB * shares.random) / total),
    text: 0,
  }
  left.text = Math.max(0, sizeMiB - left.zero - left.random)
  const handle = await open(file, 'w')
  const lineNo = { n: 0 }
  const zero = Buffer.alloc(MiB)
  try {
    let mib = 0
    while (mib < sizeMiB) {
      const remaining = left.zero + left.random + left.text
      let pick = next() % Math.max(1, remaining)
      const kind: Kind = pick < left.zero ? 'zero' : (pick -= left.zero) < left.random ? 'random' : 'text'
      const run = Math.min(left[kind], sizeMiB - mib, 1 + (next() % 16))
      for (let i = 0; i < run; i++) {
        const buf = kind === 'zero' ? zero : kind === 'random' ? randomBytes(MiB) : textMiB(next, lineNo)
        await handle.write(buf, 0, MiB, mib * MiB)
        mib++
      }
      left[kind] -= run
    }
  } finally {
    await handle.close()
  }
}

/**
 * A sparse file of `sizeMiB` MiB of which `writtenMiB` are written (mixed zeros-as-data, random and text, in 16 MiB
 * runs spread evenly over the file); the rest are holes.
 */
export async function writeSparseImage(file: string, sizeMiB: number, writtenMiB: number, seed = 44): Promise<void> {
  const next = rng(seed)
  const runs = Math.max(1, Math.ceil(writtenMiB / 16))
  const stride = Math.floor(sizeMiB / runs)
  const lineNo = { n: 0 }
  const handle = await open(file, 'w')
  try {
    await handle.truncate(sizeMiB * MiB)
    let written = 0
    for (let r = 0; r < runs && written < writtenMiB; r++) {
      const at = r * stride
      for (let i = 0; i < 16 && written < writtenMiB && at + i < sizeMiB; i++) {
        const kind = next() % 3
        const buf = kind === 0 ? Buffer.alloc(MiB) : kind === 1 ? randomBytes(MiB) : textMiB(next, lineNo)
        await handle.write(buf, 0, MiB, (at + i) * MiB)
        written++
      }
    }
  } finally {
    await handle.close()
  }
}

/** The offsets `changeBlocks` would pick, for images that must be changed through another tool (qcow2 via qemu-io). */
export function changeOffsets(sizeMiB: number, percent: number, seed = 7): number[] {
  const next = rng(seed)
  const count = Math.max(1, Math.round((sizeMiB * percent) / 100))
  const chosen = new Set<number>()
  while (chosen.size < count) chosen.add(next() % sizeMiB)
  return [...chosen].map((block) => block * MiB + (next() % 15) * 64 * 1024)
}
