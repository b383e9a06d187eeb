import { describe, expect, it } from 'vitest'
import path from 'node:path'
import { openImageFile } from '../../disks/open-image.js'
import { hasTool, run } from '../../disks/testing/tools.js'
import { CHUNK_SIZE } from '../format.js'
import { withTempDir } from '../testing/fixtures.js'
import { newLocalRepo, VM } from '../testing/helpers.js'

const MiB = 1024 * 1024

// Thin images made by qemu-img: 64 MiB virtual, 1 MiB written at 9 MiB and 64 KiB at 40 MiB + 3 KiB.
describe.skipIf(!(await hasTool('qemu-img')))('unallocated clusters of image files are never read', () => {
  it.each([
    ['qcow2', 'qcow2', []],
    ['vhd', 'vpc', ['-o', 'subformat=dynamic,force_size=on']],
    // qemu allocates VHDX payload blocks whole and zero-fills them: those zeros are data the file holds, read like
    // any other. 1 MiB blocks keep the allocation within the two chunks written to.
    ['vhdx', 'vhdx', ['-o', 'block_size=1048576']],
  ] as const)('%s: only the chunks holding data are read; the rest count as holes', async (_name, format, opts) => {
    await withTempDir(`holes-${format}`, async (dir) => {
      const image = path.join(dir, `thin.${format}`)
      await run('qemu-img', ['create', '-q', '-f', format, ...opts, image, String(64 * MiB)])
      await run('qemu-io', ['-f', format, '-c', `write -P 0x5a ${9 * MiB} 1M`, '-c', `write -P 0x33 ${40 * MiB + 3072} 64k`, image])
      const source = await openImageFile(image)
      try {
        await using repo = await newLocalRepo(dir)
        const p = await repo.ingest({ vm: VM, sourceHost: { name: 'h' }, mode: 'cold', consistency: 'offline', disks: [{ name: 'disk0', source }] })
        // At most the two chunks holding data, less where the format's blocks are smaller than a chunk.
        expect(p.stats.bytesRead).toBeLessThanOrEqual(2 * CHUNK_SIZE)
        expect(p.stats.bytesRead).toBeGreaterThanOrEqual(MiB + 64 * 1024)
        expect(p.stats.bytesHoles).toBe(64 * MiB - p.stats.bytesRead)
        expect(p.stats.chunksNew).toBe(2)
        const back = await repo.openDisk(p.id, 'disk0')
        expect((await back.read(9 * MiB, MiB)).equals(Buffer.alloc(MiB, 0x5a))).toBe(true)
        expect((await back.read(40 * MiB + 3072, 64 * 1024)).equals(Buffer.alloc(64 * 1024, 0x33))).toBe(true)
        await back.close()
      } finally {
        await source.close()
      }
    })
  })
})
