/** Disk images the campaign backs up: random data, and copies of them with a few 4 MiB blocks changed. */
import { createHash, randomBytes } from 'node:crypto'
import { copyFile, open, readFile } from 'node:fs/promises'
import { writeRandomFile } from './environment'
import type { Prng } from './prng'

export const MiB = 1024 * 1024
const BLOCK = 4 * MiB

export async function randomImage(file: string, sizeMiB: number): Promise<string> {
  await writeRandomFile(file, sizeMiB * MiB)
  return file
}

/** Copies `source` to `target` and overwrites `blocks` randomly chosen 4 MiB blocks, so a backup has new data to write. */
export async function changedCopy(source: string, target: string, sizeMiB: number, blocks: number, prng: Prng): Promise<string> {
  await copyFile(source, target)
  const handle = await open(target, 'r+')
  try {
    const count = Math.max(1, Math.floor((sizeMiB * MiB) / BLOCK))
    for (let i = 0; i < blocks; i++) await handle.write(randomBytes(BLOCK), 0, BLOCK, prng.int(0, count - 1) * BLOCK)
  } finally {
    await handle.close()
  }
  return target
}

export async function sha256(file: string): Promise<string | undefined> {
  try {
    return createHash('sha256').update(await readFile(file)).digest('hex')
  } catch {
    return undefined
  }
}
