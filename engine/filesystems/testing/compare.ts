import { createHash } from 'node:crypto'
import { expect } from 'vitest'
import type { FsEntry, Volume } from '../types'
import type { TreeItem } from './tree'

/** Test-only: walks a Volume the way a user would (list, stat, read) and checks it against the real tree. */
export async function walkVolume(volume: Volume, path = '/'): Promise<Map<string, { entry: FsEntry; sha256?: string }>> {
  const out = new Map<string, { entry: FsEntry; sha256?: string }>()
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await volume.list(dir)) {
      const p = dir === '/' ? `/${entry.name}` : `${dir}/${entry.name}`
      if (entry.type === 'file') {
        const h = createHash('sha256')
        for await (const chunk of volume.readFile(p)) h.update(chunk)
        const sha256 = h.digest('hex')
        expect({ path: p, sha256: await dataSha256(volume, p, entry.size) }, 'readData holes + pieces = readFile').toEqual({ path: p, sha256 })
        out.set(p, { entry, sha256 })
      } else out.set(p, { entry })
      if (entry.type === 'directory') await walk(p)
    }
  }
  await walk(path)
  return out
}

/** The file's bytes rebuilt from Volume.readData: pieces in ascending order, zeros for the holes between them. */
async function dataSha256(volume: Volume, path: string, size: number): Promise<string> {
  const h = createHash('sha256')
  const zeros = Buffer.alloc(1024 * 1024)
  const fill = (n: number): void => {
    for (let left = n; left > 0; left -= zeros.length) h.update(zeros.subarray(0, Math.min(left, zeros.length)))
  }
  let pos = 0
  for await (const piece of volume.readData(await volume.node(path))) {
    expect(piece.offset, `${path}: pieces in order`).toBeGreaterThanOrEqual(pos)
    fill(piece.offset - pos)
    h.update(piece.data)
    pos = piece.offset + piece.data.length
  }
  fill(size - pos)
  return h.digest('hex')
}

/** The sparse file's holes are known to the driver: readData skips them and `allocated` does not count them. */
export async function expectHolesKnown(volume: Volume, path: string, maxStored: number): Promise<void> {
  const node = await volume.node(path)
  let stored = 0
  for await (const piece of volume.readData(node)) stored += piece.data.length
  expect({ path, stored: stored <= maxStored, allocated: (node.entry.allocated ?? Infinity) <= maxStored }).toEqual({ path, stored: true, allocated: true })
}

export interface CompareOptions {
  readonly modes: boolean
  readonly symlinks: boolean
  /** Seconds of mtime slack (FAT keeps 2-second steps). */
  readonly mtimeSlack: number
  /** Paths the filesystem adds by itself (lost+found). */
  readonly ignore?: readonly string[]
}

export function expectSameTree(actual: Map<string, { entry: FsEntry; sha256?: string }>, expected: Map<string, TreeItem>, o: CompareOptions): void {
  const want = [...expected.values()].filter((i) => o.symlinks || i.type !== 'symlink')
  const ignored = (p: string): boolean => (o.ignore ?? []).some((i) => p === i || p.startsWith(`${i}/`))
  expect([...actual.keys()].filter((p) => !ignored(p)).sort()).toEqual(want.map((i) => i.path).sort())
  for (const item of want) {
    const got = actual.get(item.path)
    if (!got) continue
    const e = got.entry
    expect({ path: item.path, type: e.type }).toEqual({ path: item.path, type: item.type })
    if (item.type === 'file') expect({ path: item.path, size: e.size, sha256: got.sha256 }).toEqual({ path: item.path, size: item.size, sha256: item.sha256 })
    if (item.type === 'symlink') expect({ path: item.path, target: e.symlinkTarget }).toEqual({ path: item.path, target: item.target })
    if (o.modes && item.mode !== undefined && item.type !== 'symlink') expect({ path: item.path, mode: e.mode }).toEqual({ path: item.path, mode: item.mode })
    if (item.type === 'file' && e.mtime) {
      expect(Math.abs(Math.floor(e.mtime.getTime() / 1000) - item.mtimeSeconds), `${item.path} mtime`).toBeLessThanOrEqual(o.mtimeSlack)
    }
  }
}
