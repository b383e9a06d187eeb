import { createHash } from 'node:crypto'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hasTool, makeTempDir } from '../../disks/testing/tools'
import { openImage } from '../browse'
import type { ListedEntry } from '../testing/listing'
import { imageSet, publicImages, sourceOf, type PublicImage } from '../testing/public-images'
import { boundedList, exitCode, listingDiff } from '../testing/public-run'
import { describeTree } from '../testing/tree'

// btrfs-progs 6.2's test images (tests/fsck-tests/*, tests/misc-tests/*: btrfs-image metadata dumps restored with
// `btrfs-image -r`, whose file data reads as zeros, and raw images; tests/fuzz-tests/images/*.raw.xz: fuzzed
// superblocks and trees), fetched from Debian's pool by scripts/fetch-public-images.mjs. Every image must end in a
// listing or a typed error within bounds; where `btrfs restore` (btrfs-progs' own offline reader) restores one
// without error, Lifeboat's tree must equal what it restored, except the known differences below.
const all = await publicImages()
const images = imageSet(all, 'btrfs-progs')
const haveRestore = await hasTool('btrfs')

/** Images whose listing differs from `btrfs restore`'s, and why (a fixed one fails the test until removed). */
const FIFO = 'btrfs restore writes only files, folders and symlinks; Lifeboat lists the FIFO /foo/bar/fifo (restores report it as a device file they leave out)'
const NESTED = 'a snapshot holds the subvolumes nested in what was snapshotted only as empty folders, as the kernel shows them (filesystems/README.md); btrfs restore -s fills them from the nested subvolume itself'
const KNOWN_DIFFERENCES: Record<string, string> = {
  '011-no-inode-item--default_case': "the fsck test deletes /foo's inode item: Lifeboat leaves /foo out and reports it unreadable instead of guessing its type and size; btrfs restore rebuilds it from the directory entry",
  '020-extent-ref-cases--shared_data_ref_only': NESTED,
  '039-bad-inode-mode--bad_imodes_in_subvolume_tree': "the fsck test plants an inode mode (FIFO) that contradicts the directory entry (regular file): Lifeboat follows the inode's mode, as stat(2) on the kernel does; btrfs restore follows the entry",
  '046-ino-cache-clean--ino-cache-enabled': NESTED,
  'images--superblock-stripsize-bogus': FIFO,
  'images--superblock-total-bytes-0': FIFO,
  'images--sys-chunk-stripe-len-bogus': FIFO,
}

let scratch: string
beforeAll(async () => {
  scratch = await makeTempDir('btrfs-images')
})
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true })
})

/** What `btrfs restore` writes (snapshots, symlinks; errors ignored only by failing), as path → type and size. */
async function restoredTree(img: PublicImage): Promise<Map<string, ListedEntry> | undefined> {
  const to = join(scratch, img.name)
  await mkdir(to, { recursive: true })
  try {
    if ((await exitCode('btrfs', ['restore', '-s', '-S', img.path, to], 15_000)) !== 0) return undefined
    const out = new Map<string, ListedEntry>()
    for (const [p, item] of await describeTree(to)) out.set(p, { type: item.type, size: item.type === 'directory' ? 0 : item.size })
    return out
  } finally {
    await rm(to, { recursive: true, force: true })
  }
}

describe.skipIf(all === undefined)('btrfs-progs 6.2 test images', () => {
  it('lists every image or refuses it with a typed error, in bounds; equal to `btrfs restore` where it restores', { timeout: 120_000 }, async () => {
    expect(images.length, 'btrfs-progs images prepared').toBeGreaterThan(100)
    const failures: string[] = []
    const lines: string[] = []
    const differing: string[] = []
    let listed = 0
    let compared = 0
    let exact = 0
    for (const img of images) {
      if (img.problem) {
        // Without btrfs-image the dumps cannot be restored: a missing tool skips them here (loudly), not in CI.
        if (process.env.CI === 'true' || !img.problem.includes('not installed')) failures.push(`${sourceOf(img)}: not prepared: ${img.problem}`)
        else lines.push(`  NOT RUN: ${sourceOf(img)}: ${img.problem}`)
        continue
      }
      const run = await boundedList(img.path, true)
      if (run.failure || !run.outcome) {
        failures.push(`${sourceOf(img)}: ${run.failure ?? 'no outcome'}`)
        continue
      }
      if (run.outcome.kind === 'typed-error') {
        lines.push(`  refused: ${sourceOf(img)}: ${run.outcome.error.replace(/^.*\(\S+: /, '').replace(/\)$/, '')}`)
        continue
      }
      listed++
      const theirs = haveRestore ? await restoredTree(img) : undefined
      if (!theirs) continue
      compared++
      const diff = listingDiff(run.outcome.entries, theirs)
      if (diff.length === 0) exact++
      else {
        differing.push(img.name)
        lines.push(`  differs: ${sourceOf(img)}: ${diff.join('; ')}${KNOWN_DIFFERENCES[img.name] ? ` — known: ${KNOWN_DIFFERENCES[img.name]}` : ''}`)
      }
    }
    console.log([`btrfs-progs images: ${images.length}; listed ${listed}; compared with btrfs restore ${compared}, equal ${exact}`, ...lines].join('\n'))
    expect(failures, 'no crash, hang or runaway memory').toEqual([])
    expect(differing.sort(), 'images differing from btrfs restore = the known differences').toEqual(Object.keys(KNOWN_DIFFERENCES).sort())
    if (haveRestore) expect(compared).toBeGreaterThan(30)
  })

  it('reads the zlib, LZO and zstd files of misc-tests/025-zstd-compression as its test expects (200 KiB of zeros each)', async () => {
    const img = images.find((i) => i.name === '025-zstd-compression--compress')
    expect(img, 'misc-tests/025-zstd-compression/compress.raw.xz prepared').toBeDefined()
    const opened = await openImage((img as PublicImage).path)
    try {
      const volume = await opened.openVolume()
      expect((await volume.list('/')).map((e) => e.name).sort()).toEqual(['lzo', 'zlib', 'zstd'])
      const zeros = createHash('md5').update(Buffer.alloc(200 * 1024)).digest('hex')
      for (const name of ['zlib', 'lzo', 'zstd']) {
        const h = createHash('md5')
        for await (const chunk of volume.readFile(`/${name}`)) h.update(chunk)
        expect({ name, md5: h.digest('hex') }).toEqual({ name, md5: zeros })
      }
    } finally {
      await opened.close()
    }
  })
})
