import { randomBytes } from 'node:crypto'
import { open, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Extent } from './block-source'
import { FileSource } from './file-source'
import { hasTool, makeTempDir } from './testing/tools'

const MiB = 1024 * 1024

async function all(source: FileSource): Promise<Extent[]> {
  const out: Extent[] = []
  for await (const e of source.extents()) out.push(e)
  return out
}

describe.skipIf(!(await hasTool('qemu-img')))('a local sparse file: its holes, found without reading them', () => {
  let dir: string
  beforeAll(async () => {
    dir = await makeTempDir('local-allocation')
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('reports whole 4 MiB blocks without data as zero extents, the rest as data, covering the file', async () => {
    const file = join(dir, 'thin.raw')
    const fh = await open(file, 'w')
    await fh.truncate(64 * MiB + 100)
    await fh.write(randomBytes(MiB), 0, MiB, 9 * MiB)
    await fh.write(randomBytes(10), 0, 10, 64 * MiB + 50)
    await fh.close()
    const source = await FileSource.open(file)
    try {
      expect(await all(source)).toEqual([
        { offset: 0, length: 8 * MiB, kind: 'zero' },
        { offset: 8 * MiB, length: 4 * MiB, kind: 'data' },
        { offset: 12 * MiB, length: 52 * MiB, kind: 'zero' },
        { offset: 64 * MiB, length: 100, kind: 'data' },
      ])
    } finally {
      await source.close()
    }
  })

  it('reports a file without holes as one data extent', async () => {
    const file = join(dir, 'dense.raw')
    const fh = await open(file, 'w')
    await fh.write(randomBytes(5 * MiB), 0, 5 * MiB, 0)
    await fh.close()
    const source = await FileSource.open(file)
    try {
      expect(await all(source)).toEqual([{ offset: 0, length: 5 * MiB, kind: 'data' }])
    } finally {
      await source.close()
    }
  })
})
