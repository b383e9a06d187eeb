import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { FileSource } from '../../disks/file-source'
import { openImage } from '../browse'
import { imageSet, publicImages, sourceOf, type PublicImage } from '../testing/public-images'
import { readMbr } from './mbr'

// util-linux 2.38.1's partition-table images (tests/ts/blkid/images-pt/*.img.xz) with the expected output of its
// partitions helper (tests/expected/blkid/lowprobe-pt-*: "#N: start size 0xTYPE …" in sectors), fetched from
// Debian's pool by scripts/fetch-public-images.mjs.
const all = await publicImages()
const images = imageSet(all, 'blkid-pt')

/** Tables Lifeboat does not read (it reads MBR and GPT): it must show the disk as one volume with nothing known on it. */
const NOT_READ = new Set(['atari-primary', 'atari-xgm', 'bsd', 'sgi', 'sun'])

/**
 * dos+bsd: the disk also holds a whole-disk ext3 (a leftover: mke2fs ran before the MBR was written; e2fsck finds
 * its free counts wrong) and blkid reports both. Lifeboat's rule is that a filesystem on the whole disk means no
 * partition table (filesystems/README.md), so `image info` shows the ext3; the MBR reader itself, asked directly,
 * must still list what blkid lists — except #5 and #6, the slices of the BSD disklabel inside the FreeBSD
 * partition (0xa5): Lifeboat does not read BSD disklabels.
 */
const WHOLE_DISK_FS_WINS = new Set(['dos+bsd'])
const BSD_SLICES_NOT_READ = new Set(['dos+bsd#5', 'dos+bsd#6'])

interface Row {
  readonly n: number
  readonly start: number
  readonly size: number
  readonly type: string
}

function expectedRows(text: string): Row[] {
  const rows: Row[] = []
  for (const m of text.matchAll(/^#(\d+):\s+(\d+)\s+(\d+)\s+0x([0-9a-f]+)(?:.*type='([0-9a-f-]+)')?/gim)) {
    rows.push({ n: Number(m[1]), start: Number(m[2]), size: Number(m[3]), type: (m[5] ?? (m[4] ?? '').padStart(2, '0')).toLowerCase() })
  }
  return rows
}

async function lifeboatRows(img: PublicImage): Promise<{ rows: Row[]; wholeDisk?: string }> {
  const opened = await openImage(img.path)
  try {
    const parts = opened.tree.volumes.filter((v) => v.partition)
    const whole = opened.tree.volumes.find((v) => v.kind === 'whole-disk')
    return {
      rows: parts.map((v) => ({ n: v.partition?.index ?? 0, start: (v.partition?.start ?? 0) / 512, size: (v.partition?.size ?? 0) / 512, type: (v.partition?.type ?? '').toLowerCase() })),
      ...(whole ? { wholeDisk: whole.filesystem?.type ?? whole.content } : {}),
    }
  } finally {
    await opened.close()
  }
}

describe.skipIf(all === undefined)('util-linux 2.38.1 partition-table images', () => {
  it('lists the partitions blkid lists (number, start, size, type) for MBR and GPT, and nothing for other tables', async () => {
    expect(images.length, 'images-pt prepared').toBeGreaterThanOrEqual(7)
    const lines: string[] = []
    for (const img of images) {
      expect(img.problem, sourceOf(img)).toBeUndefined()
      const want = expectedRows(await readFile(img.expectedPath ?? '', 'utf8'))
      const got = await lifeboatRows(img)
      if (NOT_READ.has(img.name)) {
        expect({ img: img.name, got }).toEqual({ img: img.name, got: { rows: [], wholeDisk: 'unknown' } })
        lines.push(`  not read (${want.length} partitions in blkid): ${sourceOf(img)} → one volume, content unknown`)
      } else if (WHOLE_DISK_FS_WINS.has(img.name)) {
        expect({ img: img.name, got }).toEqual({ img: img.name, got: { rows: [], wholeDisk: 'ext3' } })
        const source = await FileSource.open(img.path)
        try {
          const table = await readMbr(source)
          const mbr = table.partitions.map((p) => ({ n: p.index, start: p.start / 512, size: p.size / 512, type: p.type.toLowerCase() }))
          expect(mbr).toEqual(want.filter((r) => !BSD_SLICES_NOT_READ.has(`${img.name}#${r.n}`)))
          lines.push(`  known difference: ${sourceOf(img)}: the whole-disk ext3 is shown; the MBR reader lists ${mbr.length} of blkid's ${want.length} (BSD slices not read)`)
        } finally {
          await source.close()
        }
      } else {
        expect({ img: img.name, rows: got.rows }).toEqual({ img: img.name, rows: want })
        lines.push(`  same: ${sourceOf(img)}: ${want.length} partitions`)
      }
    }
    console.log([`util-linux images-pt: ${images.length}`, ...lines].join('\n'))
  })
})
