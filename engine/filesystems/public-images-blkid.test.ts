import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { labelText } from './fat/fat-dir'
import { openImage } from './browse'
import { imageSet, publicImages, sourceOf, type PublicImage } from './testing/public-images'
import { boundedList } from './testing/public-run'
import type { VolumeNode } from './probe-disk'

// util-linux 2.38.1's blkid test images (tests/ts/blkid/images-fs/*.img.xz, one per filesystem type) with blkid's
// expected output (tests/expected/blkid/low-probe-*), and dosfstools 4.2's FAT images (tests/*.xxd) with fatlabel's
// expected output (tests/*.label); fetched from Debian's pool by scripts/fetch-public-images.mjs.
const all = await publicImages()
const fsImages = imageSet(all, 'blkid-fs')
const dosfstools = imageSet(all, 'dosfstools')

/** blkid's TYPE → what Lifeboat detects. Types Lifeboat reads have a FilesystemType; the rest only a content kind. */
const READ: Partial<Record<string, (t: string) => boolean>> = {
  ext2: (t) => t === 'ext2',
  ext3: (t) => t === 'ext3',
  ext4: (t) => t === 'ext4',
  xfs: (t) => t === 'xfs',
  btrfs: (t) => t === 'btrfs',
  ntfs: (t) => t === 'ntfs',
}
const RECOGNISED: Partial<Record<string, string>> = { exfat: 'exfat', crypto_LUKS: 'luks', LVM2_member: 'lvm2-pv', swap: 'swap' }

/** Where Lifeboat and blkid disagree on purpose, and why. */
const KNOWN_DIFFERENCES: Partial<Record<string, string>> = {
  jbd: 'an external ext journal device: Lifeboat sees the ext superblock and says plainly that it is a journal device, not a filesystem with files (blkid: TYPE jbd)',
  tuxonice: 'a TuxOnIce hibernation image in a swap area: Lifeboat names the swap area (blkid: swsuspend); neither is browsable',
}
// FAT labels are bytes in an OEM code page that the volume does not record: blkid reports the bytes, Lifeboat shows
// them in code page 437 as it does short names, so they are compared as bytes (fat32_cp850_O_tilde holds E5 E5 E5,
// "ÕÕÕ" in the code page 850 it was written in, "σσσ" in Lifeboat).


function udev(text: string): Partial<Record<string, string>> {
  return Object.fromEntries(text.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
}

/** blkid's *_ENC values: the label's bytes, those that are not safe text escaped as \xNN. */
function unescapeEnc(enc: string): Buffer {
  return Buffer.concat(enc.split(/(\\x[0-9a-f]{2})/i).map((part) => (/^\\x[0-9a-f]{2}$/i.test(part) ? Buffer.from([parseInt(part.slice(2), 16)]) : Buffer.from(part, 'utf8'))))
}

async function tree(img: PublicImage): Promise<VolumeNode> {
  const opened = await openImage(img.path)
  try {
    expect(opened.tree.volumes, `${sourceOf(img)}: one whole-disk volume`).toHaveLength(1)
    return opened.tree.volumes[0] as VolumeNode
  } finally {
    await opened.close()
  }
}

describe.skipIf(all === undefined)('util-linux 2.38.1 blkid images: type, label and UUID as blkid reports them', () => {
  it('agrees with blkid on every image: the type Lifeboat reads, or a plain "not browsable"', { timeout: 60_000 }, async () => {
    expect(fsImages.length, 'images-fs prepared').toBeGreaterThan(100)
    const rows: string[] = []
    const mismatches: string[] = []
    for (const img of fsImages) {
      expect(img.problem, sourceOf(img)).toBeUndefined()
      if (!img.expectedPath) continue
      const want = udev(await readFile(img.expectedPath, 'utf8'))
      const type = want.ID_FS_TYPE ?? ''
      const v = await tree(img)
      const got = v.filesystem ? v.filesystem.type : `${v.content}${v.problem ? ` (${v.problem})` : ''}`
      let ok: boolean
      const reads = READ[type]
      // blkid's VERSION of a vfat is FAT12, FAT16 or FAT32.
      if (type === 'vfat') ok = v.filesystem !== undefined && v.filesystem.type === (want.ID_FS_VERSION ?? '').toLowerCase()
      else if (reads) ok = v.filesystem !== undefined && reads(v.filesystem.type)
      else ok = v.filesystem === undefined && (v.content === 'unknown' || v.content === RECOGNISED[type])
      if (ok && v.filesystem) {
        const label = want.ID_FS_LABEL_ENC !== undefined ? unescapeEnc(want.ID_FS_LABEL_ENC) : Buffer.alloc(0)
        const wantLabel = type === 'vfat' ? labelText(label) : label.toString('utf8')
        const wantUuid = want.ID_FS_UUID ?? ''
        ok = v.filesystem.label === wantLabel && v.filesystem.uuid.toLowerCase() === wantUuid.toLowerCase()
        if (!ok) mismatches.push(`${img.name}: label "${v.filesystem.label}" uuid ${v.filesystem.uuid}; blkid: label "${wantLabel}" uuid ${wantUuid}`)
      } else if (!ok) mismatches.push(`${img.name}: Lifeboat ${got}; blkid ${type} ${want.ID_FS_VERSION ?? ''}`)
      rows.push(`  ${ok ? 'same' : 'DIFF'} ${sourceOf(img)}: blkid ${type}${want.ID_FS_VERSION ? ` ${want.ID_FS_VERSION}` : ''} → Lifeboat ${got}${KNOWN_DIFFERENCES[img.name] ? ` — known: ${KNOWN_DIFFERENCES[img.name]}` : ''}`)
    }
    const agreed = rows.filter((r) => r.startsWith('  same')).length
    console.log([`util-linux blkid images-fs: ${rows.length} compared, ${agreed} agree`, ...rows].join('\n'))
    expect(mismatches.map((m) => m.slice(0, m.indexOf(':'))).sort(), mismatches.join('\n')).toEqual(Object.keys(KNOWN_DIFFERENCES).sort())
  })
})

describe.skipIf(all === undefined)('dosfstools 4.2 FAT images', () => {
  it('reads each label-* image\'s label as fatlabel does (tests/*.label)', async () => {
    const labelled = dosfstools.filter((i) => i.expectedPath !== undefined)
    expect(labelled.length).toBeGreaterThan(10)
    const got: string[] = []
    const want: string[] = []
    for (const img of labelled) {
      const v = await tree(img)
      got.push(`${img.name}: ${v.filesystem?.label ?? `(${v.content})`}`)
      want.push(`${img.name}: ${(await readFile(img.expectedPath as string, 'utf8')).replace(/\n$/, '')}`)
    }
    console.log(`dosfstools label images: ${labelled.length}, equal to fatlabel: ${got.filter((g, i) => g === want[i]).length}`)
    expect(got).toEqual(want)
  })

  it('lists each check-* (damaged) and reference image or refuses it with a typed error, in bounds', async () => {
    const rest = dosfstools.filter((i) => i.expectedPath === undefined)
    expect(rest.length).toBeGreaterThan(10)
    const lines: string[] = []
    const failures: string[] = []
    for (const img of rest) {
      const run = await boundedList(img.path, true)
      if (run.failure) failures.push(`${sourceOf(img)}: ${run.failure}`)
      const o = run.outcome
      lines.push(`  ${sourceOf(img)}: ${o?.kind === 'listing' ? `${o.entries.size} entries, ${o.problems.length + o.dataErrors.length} problems reported` : o ? `refused: ${o.error}` : run.failure ?? ''}`)
    }
    console.log([`dosfstools check/reference images: ${rest.length}`, ...lines].join('\n'))
    expect(failures).toEqual([])
  })
})
