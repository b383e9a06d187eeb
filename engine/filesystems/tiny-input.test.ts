import { describe, expect, it } from 'vitest'
import { BufferSource } from '../disks/buffer-source'
import { DiskFormatError } from '../disks/errors'
import { openImage } from './browse'
import { FilesystemError } from './errors'

describe('inputs too small to be disks', () => {
  for (const size of [0, 1, 511, 512, 1343, 4095, 4096, 8191]) {
    it(`${size} bytes end with a typed error, not a crash`, async () => {
      const err = await openImage(new BufferSource(Buffer.alloc(size, 0x41), `tiny-${size}`)).then(
        async (img) => {
          await img.close()
          return undefined
        },
        (e: unknown) => e,
      )
      if (err !== undefined) expect(err instanceof DiskFormatError || err instanceof FilesystemError, err instanceof Error ? err.message : 'not an Error').toBe(true)
    })
  }
})
