import { describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { OVERLAY_BLOCK, openWriteOverlay } from './write-overlay.js'
import type { ServedDisk } from './served-disk.js'

/** A served disk whose reads are views of its one buffer, as a chunk cache's are: modifying one changes the disk. */
function sharedViews(bytes: Buffer): ServedDisk {
  return {
    size: bytes.length,
    label: 'a disk served from a cache',
    read: (offset, length) => Promise.resolve(bytes.subarray(offset, offset + length)),
    allocation: (_offset, length) => [{ length, zero: false }],
    close: () => Promise.resolve(),
  }
}

describe('write overlay', () => {
  it('a write of part of a block lands in the overlay and never in the bytes the base disk handed out', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'lb-overlay-'))
    try {
      const original = randomBytes(4 * OVERLAY_BLOCK)
      const base = Buffer.from(original)
      const disk = await openWriteOverlay(path.join(dir, 'overlay'), sharedViews(base), 'test/disk0')
      const data = Buffer.alloc(1000, 0xab)
      await disk.writable?.write(OVERLAY_BLOCK + 500, data)
      expect(base.equals(original)).toBe(true)
      const block = await disk.read(OVERLAY_BLOCK, OVERLAY_BLOCK)
      expect(block.subarray(500, 1500).equals(data)).toBe(true)
      expect(block.subarray(0, 500).equals(original.subarray(OVERLAY_BLOCK, OVERLAY_BLOCK + 500))).toBe(true)
      expect(block.subarray(1500).equals(original.subarray(OVERLAY_BLOCK + 1500, 2 * OVERLAY_BLOCK))).toBe(true)
      await disk.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
