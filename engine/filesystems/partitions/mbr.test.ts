import { open, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BufferSource } from '../../disks/buffer-source'
import { FileSource } from '../../disks/file-source'
import { ext4ImageOf, hasTool, makeTempDir, run } from '../../disks/testing/tools'
import { openImage } from '../browse'
import { placeInto } from '../testing/fixtures'
import { readMbr } from './mbr'

interface Slot {
  readonly type: number
  readonly start: number
  readonly sectors: number
}

/** A boot record as the MBR specification lays it out: 4 slots of 16 bytes from byte 446, then 0x55 0xAA. */
function bootRecord(slots: readonly Slot[]): Buffer {
  const b = Buffer.alloc(512)
  slots.forEach((s, i) => {
    const o = 446 + i * 16
    b[o + 4] = s.type
    b.writeUInt32LE(s.start, o + 8)
    b.writeUInt32LE(s.sectors, o + 12)
  })
  b.writeUInt16LE(0xaa55, 510)
  return b
}

const EMPTY: Slot = { type: 0, start: 0, sectors: 0 }

async function writeSector(path: string, lba: number, sector: Buffer): Promise<void> {
  const fh = await open(path, 'r+')
  try {
    await fh.write(sector, 0, 512, lba * 512)
  } finally {
    await fh.close()
  }
}

interface Seen {
  readonly index: number
  readonly start: number
  readonly sectors: number
  readonly type: string
}

/** util-linux partx (libblkid) on the image file, without the extended partition itself. */
async function partx(image: string): Promise<Seen[]> {
  const out = await run('partx', ['--pairs', '--bytes', '-o', 'NR,START,SECTORS,TYPE', image])
  return out
    .trim()
    .split('\n')
    .map((line) => Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]])) as Record<string, string>)
    .filter((r) => !['0x5', '0xf', '0x85'].includes(r.TYPE ?? ''))
    .map((r) => ({ index: Number(r.NR), start: Number(r.START), sectors: Number(r.SECTORS), type: (r.TYPE ?? '').replace(/^0x/, '').padStart(2, '0') }))
}

async function lifeboat(image: string): Promise<{ seen: Seen[]; warnings: readonly string[] }> {
  const source = await FileSource.open(image)
  try {
    const table = await readMbr(source)
    return { seen: table.partitions.map((p) => ({ index: p.index, start: p.start / 512, sectors: p.size / 512, type: p.type })), warnings: table.warnings }
  } finally {
    await source.close()
  }
}

const haveTools = (await hasTool('sfdisk')) && (await hasTool('partx')) && (await hasTool('mkfs.ext4'))

let dir: string
beforeAll(async () => {
  dir = await makeTempDir('mbr')
})
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true })
})

describe.skipIf(!haveTools)('MBR logical partitions against util-linux partx', () => {
  it('reads an sfdisk chain of logical partitions as partx does', async () => {
    const image = join(dir, 'sfdisk.raw')
    await run('truncate', ['-s', '64M', image])
    await run('sfdisk', ['-q', image], {
      input: 'label: dos\n1 : start=2048, size=8M, type=83\n2 : start=18432, size=100000, type=5\n5 : start=20480, size=8M, type=83\n6 : size=4M, type=7\n7 : size=4M, type=c\n8 : size=8M, type=82\n',
    })
    const expected = await partx(image)
    expect(expected.map((p) => p.index)).toEqual([1, 5, 6, 7, 8])
    const { seen, warnings } = await lifeboat(image)
    expect(seen).toEqual(expected)
    expect(warnings).toEqual([])
  })

  it('reads every partition of extended boot records that hold several (Windows-style), as partx does', async () => {
    const image = join(dir, 'multi.raw')
    await run('truncate', ['-s', '64M', image])
    // sfdisk writes the MBR and the extended partition; the boot records inside it are written from the specification.
    await run('sfdisk', ['-q', image], { input: 'label: dos\n1 : start=2048, size=16384, type=83\n2 : start=18432, size=100000, type=f\n' })
    const ext = 18432
    // Record 1: two partitions, the link in slot 3, and a third partition in slot 4 (relative to this record).
    await writeSector(image, ext, bootRecord([
      { type: 0x83, start: 2048, sectors: 16384 },
      { type: 0x07, start: 18432, sectors: 8192 },
      { type: 0x05, start: 28672, sectors: 20480 },
      { type: 0x0c, start: 75776, sectors: 8192 },
    ]))
    await writeSector(image, ext + 28672, bootRecord([{ type: 0x83, start: 2048, sectors: 16384 }, { type: 0x05, start: 49152, sectors: 20480 }]))
    await writeSector(image, ext + 49152, bootRecord([{ type: 0x83, start: 2048, sectors: 8192 }, { type: 0x82, start: 12288, sectors: 4096 }]))
    const expected = await partx(image)
    expect(expected).toEqual([
      { index: 1, start: 2048, sectors: 16384, type: '83' },
      { index: 5, start: 20480, sectors: 16384, type: '83' },
      { index: 6, start: 36864, sectors: 8192, type: '07' },
      { index: 7, start: 94208, sectors: 8192, type: '0c' },
      { index: 8, start: 49152, sectors: 16384, type: '83' },
      { index: 9, start: 69632, sectors: 8192, type: '83' },
      { index: 10, start: 79872, sectors: 4096, type: '82' },
    ])
    const { seen, warnings } = await lifeboat(image)
    expect(seen).toEqual(expected)
    expect(warnings).toEqual([])

    // The partitions in the second and fourth slots hold real filesystems that open and read.
    await placeInto(image, await ext4ImageOf(dir, 'slot2', { 'where.txt': 'second slot\n' }, '4M', ['-L', 'slot2']), 36864 * 512)
    await placeInto(image, await ext4ImageOf(dir, 'slot4', { 'where.txt': 'fourth slot\n' }, '4M', ['-L', 'slot4']), 94208 * 512)
    const opened = await openImage(image)
    try {
      for (const [locator, text] of [['p6', 'second slot\n'], ['p7', 'fourth slot\n']] as const) {
        const volume = await opened.openVolume(locator)
        const parts: Buffer[] = []
        for await (const b of volume.readFile('/where.txt')) parts.push(b)
        expect(Buffer.concat(parts).toString()).toBe(text)
      }
      expect(opened.volumeNode('slot4').locator).toBe('p7')
    } finally {
      await opened.close()
    }
  })

  it('follows every extended partition of the MBR, numbering on, as partx does', async () => {
    const image = join(dir, 'two-extended.raw')
    await run('truncate', ['-s', '16M', image])
    await writeSector(image, 0, bootRecord([{ type: 0x83, start: 2048, sectors: 2048 }, { type: 0x05, start: 4096, sectors: 8192 }, { type: 0x0f, start: 12288, sectors: 8192 }]))
    await writeSector(image, 4096, bootRecord([{ type: 0x83, start: 2048, sectors: 2048 }]))
    await writeSector(image, 12288, bootRecord([{ type: 0x07, start: 2048, sectors: 4096 }]))
    const expected = await partx(image)
    expect(expected.map((p) => [p.index, p.start])).toEqual([[1, 2048], [5, 6144], [6, 14336]])
    const { seen, warnings } = await lifeboat(image)
    expect(seen).toEqual(expected)
    expect(warnings).toEqual([])
  })
})

describe('damaged chains of extended boot records', () => {
  const disk = (): Buffer => Buffer.alloc(8192 * 512)
  const put = (d: Buffer, lba: number, sector: Buffer): void => void sector.copy(d, lba * 512)
  const table = (d: Buffer) => readMbr(new BufferSource(d, 'disk.raw'))

  it('refuses overlapping partitions and partitions outside the extended partition, saying so', async () => {
    const d = disk()
    put(d, 0, bootRecord([{ type: 0x83, start: 64, sectors: 1000 }, { type: 0x05, start: 2048, sectors: 4096 }]))
    put(d, 2048, bootRecord([
      { type: 0x83, start: 64, sectors: 1000 },
      { type: 0x83, start: 500, sectors: 1000 },
      { type: 0x05, start: 2048, sectors: 1024 },
      { type: 0x83, start: 4500, sectors: 100 },
    ]))
    put(d, 4096, bootRecord([{ type: 0x83, start: 32, sectors: 64 }, { type: 0x83, start: -4096 >>> 0, sectors: 64 }]))
    const t = await table(d)
    expect(t.partitions.map((p) => [p.index, p.start / 512, p.size / 512])).toEqual([[1, 64, 1000], [5, 2112, 1000], [6, 4128, 64]])
    expect(t.warnings).toEqual([
      'The logical partition in entry 2 of the extended boot record at sector 2048 (sectors 2548–3547) overlaps partition 5 and was skipped.',
      'The logical partition in entry 4 of the extended boot record at sector 2048 (sector 6548) lies outside the extended partition (sectors 2048–6143) and was skipped.',
      `The logical partition in entry 2 of the extended boot record at sector 4096 (sector ${4096 + (-4096 >>> 0)}) lies outside the extended partition (sectors 2048–6143) and was skipped.`,
    ])
  })

  it('cuts a chain that loops, leaves the extended partition or runs off the disk', async () => {
    const loop = disk()
    put(loop, 0, bootRecord([EMPTY, { type: 0x0f, start: 2048, sectors: 4096 }]))
    put(loop, 2048, bootRecord([{ type: 0x83, start: 64, sectors: 64 }, { type: 0x05, start: 1024, sectors: 512 }]))
    put(loop, 3072, bootRecord([{ type: 0x83, start: 64, sectors: 64 }, { type: 0x05, start: 1024, sectors: 512 }]))
    const looped = await table(loop)
    expect(looped.partitions.map((p) => p.start / 512)).toEqual([2112, 3136])
    expect(looped.warnings).toEqual(['The chain of logical partitions loops back on itself; it was cut there.'])

    const outside = disk()
    put(outside, 0, bootRecord([{ type: 0x05, start: 2048, sectors: 4096 }]))
    put(outside, 2048, bootRecord([{ type: 0x83, start: 64, sectors: 64 }, { type: 0x05, start: 5000, sectors: 512 }, { type: 0x05, start: 1024, sectors: 512 }]))
    const out = await table(outside)
    expect(out.partitions.map((p) => p.start / 512)).toEqual([2112])
    expect(out.warnings).toEqual([
      'The extended boot record at sector 2048 links to 2 further records; only the first was followed (as Linux does).',
      'The extended boot record at sector 2048 links to sector 7048, outside the extended partition; later logical partitions are missing.',
    ])

    const offDisk = disk()
    put(offDisk, 0, bootRecord([{ type: 0x05, start: 2048, sectors: 100000 }]))
    put(offDisk, 2048, bootRecord([{ type: 0x83, start: 64, sectors: 64 }, { type: 0x05, start: 50000, sectors: 512 }]))
    const off = await table(offDisk)
    expect(off.partitions.map((p) => p.start / 512)).toEqual([2112])
    expect(off.warnings).toEqual(['A logical partition record (sector 52048) lies beyond the end of the disk; later logical partitions are missing.'])
  })
})
