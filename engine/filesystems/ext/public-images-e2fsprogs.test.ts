import { rm } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hasTool, makeTempDir } from '../../disks/testing/tools'
import { checkE2fsprogsImages } from '../testing/e2fsprogs-images'
import { imageSet, publicImages } from '../testing/public-images'

// e2fsprogs 1.47.0 (Debian 1.47.0-2) tests/f_*/image.gz|.bz2|image, fetched by scripts/fetch-public-images.mjs
// (testing/e2fsprogs-images.ts); in two halves, so each stays well inside its time limit.
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

describe.skipIf(all === undefined || !tools)('e2fsprogs 1.47.0 f_* images', () => {
  it.each([0, 1])('half %i: lists each image or refuses it with a typed error, in bounds; clean ones exactly as debugfs does', { timeout: 120_000 }, async (half) => {
    expect(images.length, 'f_* images prepared').toBeGreaterThan(150)
    await checkE2fsprogsImages(images, half, 2, scratch)
  })
})
