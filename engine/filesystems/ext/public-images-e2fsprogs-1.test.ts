import { rm } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hasTool, makeTempDir } from '../../disks/testing/tools'
import { checkE2fsprogsImages } from '../testing/e2fsprogs-images'
import { imageSet, publicImages } from '../testing/public-images'

// e2fsprogs 1.47.0 (Debian 1.47.0-2) tests/f_*/image.gz|.bz2|image, fetched by scripts/fetch-public-images.mjs;
// half of them here, the other half in public-images-e2fsprogs-2.test.ts (testing/e2fsprogs-images.ts).
const all = await publicImages()
const images = imageSet(all, 'e2fsprogs-f')
const tools = (await hasTool('debugfs')) && (await hasTool('e2fsck'))

let scratch: string
beforeAll(async () => {
  scratch = await makeTempDir('e2fsprogs-images')
})
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true })
})

describe.skipIf(all === undefined || !tools)('e2fsprogs 1.47.0 f_* images, part 1 of 2', () => {
  it('lists each image or refuses it with a typed error, in bounds; clean ones exactly as debugfs does', { timeout: 120_000 }, async () => {
    expect(images.length, 'f_* images prepared').toBeGreaterThan(150)
    await checkE2fsprogsImages(images, 0, 2, scratch)
  })
})
