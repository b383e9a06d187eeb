import { writeFile, rm } from 'node:fs/promises'
import { run } from '../../disks/testing/tools'
import type { EntryType } from '../types'
import type { ListedEntry } from './listing'

/** Test-only: e2fsprogs' own view of an ext image — every path with its type and size, from `debugfs ls -p`. */
const TYPES: Record<string, EntryType> = { '04': 'directory', '10': 'file', '12': 'symlink', '02': 'char-device', '06': 'block-device', '01': 'fifo', '14': 'socket' }

function typeOf(mode: string): EntryType {
  return TYPES[mode.padStart(6, '0').slice(0, 2)] ?? 'other'
}

/**
 * Lists the whole tree one level at a time (undefined when debugfs cannot open the image): one debugfs run per level, folders named by inode (`ls -p <N>`) so that
 * no name needs quoting. A folder inode met again (hard link, loop) is listed once.
 */
export async function debugfsTree(image: string, scratch: string): Promise<Map<string, ListedEntry> | undefined> {
  const out = new Map<string, ListedEntry>()
  const seen = new Set<number>([2])
  let level: { ino: number; path: string }[] = [{ ino: 2, path: '' }]
  for (let depth = 0; level.length > 0 && depth < 256; depth++) {
    await writeFile(scratch, level.map((d) => `ls -p <${d.ino}>\n`).join(''))
    const text = await run('debugfs', ['-f', scratch, image])
    const blocks = text.split(/^debugfs: ls -p <\d+>$/m).slice(1)
    // debugfs could not open the filesystem (it does not fall back to backup superblocks, e2fsck does).
    if (depth === 0 && !/^\/2\/[0-7]+\/\d+\/\d+\/\.\/\/$/m.test(blocks[0] ?? '')) {
      await rm(scratch, { force: true })
      return undefined
    }
    const next: { ino: number; path: string }[] = []
    for (const [i, block] of blocks.entries()) {
      const dir = level[i]
      if (!dir) continue
      for (const line of block.split('\n')) {
        const m = /^\/(\d+)\/([0-7]+)\/\d+\/\d+\/(.*)\/(\d*)\/$/.exec(line)
        if (!m) continue
        const ino = Number(m[1])
        const name = m[3] ?? ''
        if (ino === 0 || name === '.' || name === '..') continue
        const type = typeOf(m[2] ?? '')
        const path = `${dir.path}/${name}`
        out.set(path, { type, size: type === 'directory' ? 0 : Number(m[4] || 0) })
        if (type === 'directory' && !seen.has(ino)) {
          seen.add(ino)
          next.push({ ino, path })
        }
      }
    }
    level = next
  }
  await rm(scratch, { force: true })
  return out
}
