import { open, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FileSource } from '../../disks/file-source'
import { hasTool, makeTempDir, run } from '../../disks/testing/tools'
import { openVolume } from '../open-volume'
import type { VolumeInfo } from '../types'

// Findings of engine/filesystems/public-images-blkid.test.ts (util-linux's and dosfstools' reference images),
// reproduced on images mkfs.vfat makes here; blkid is the oracle, as there.
const tools = (await hasTool('mkfs.vfat')) && (await hasTool('blkid'))

let dir: string
beforeAll(async () => {
  dir = await makeTempDir('fat-blkid')
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function mkfs(name: string, sizeMiB: number, label: string): Promise<string> {
  const image = join(dir, name)
  await run('truncate', ['-s', `${sizeMiB}M`, image])
  await run('mkfs.vfat', ['-F', '32', '-n', label, '-i', '1234ABCD', image])
  return image
}

async function blkid(image: string): Promise<Record<string, string>> {
  const out = await run('blkid', ['-p', '-o', 'udev', image])
  return Object.fromEntries(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
}

async function info(image: string): Promise<VolumeInfo> {
  const source = await FileSource.open(image)
  try {
    const volume = await openVolume(source)
    const { info: i } = volume
    expect(await volume.list('/')).toEqual([])
    await volume.close()
    return i
  } finally {
    await source.close()
  }
}

/** Byte offset of the root directory's volume-label entry of a FAT32 image mkfs.vfat made (its first entry). */
async function rootLabelEntry(image: string): Promise<number> {
  const fh = await open(image, 'r')
  try {
    const { buffer: b } = await fh.read(Buffer.alloc(512), 0, 512, 0)
    const bps = b.readUInt16LE(11)
    const rootStart = (b.readUInt16LE(14) + (b[16] ?? 0) * b.readUInt32LE(36) + (b.readUInt32LE(44) - 2) * (b[13] ?? 0)) * bps
    const { buffer: e } = await fh.read(Buffer.alloc(32), 0, 32, rootStart)
    expect(e[11], 'mkfs.vfat wrote the label as the first root entry').toBe(0x08)
    return rootStart
  } finally {
    await fh.close()
  }
}

async function patch(image: string, at: number, byte: number): Promise<void> {
  const fh = await open(image, 'r+')
  try {
    await fh.write(Buffer.from([byte]), 0, 1, at)
  } finally {
    await fh.close()
  }
}

describe.skipIf(!tools)('FAT as Linux reads it (blkid as the oracle)', () => {
  it('takes a FAT32 with fewer than 65525 clusters for FAT32 (its 16-bit FAT size is 0), as blkid and the kernel do', async () => {
    const image = await mkfs('small32.img', 2, 'SMALL32')
    expect(await blkid(image)).toMatchObject({ ID_FS_VERSION: 'FAT32', ID_FS_LABEL: 'SMALL32', ID_FS_UUID: '1234-ABCD' })
    expect(await info(image)).toMatchObject({ type: 'fat32', label: 'SMALL32', uuid: '1234-ABCD' })
  })

  it('has no label when the root directory has none, whatever the boot sector keeps (Windows erasing a label)', async () => {
    const image = await mkfs('erased.img', 40, 'LABEL1')
    // Windows XP erases a label by marking its root entry deleted and leaves the boot sector's copy.
    await patch(image, await rootLabelEntry(image), 0xe5)
    const b = await blkid(image)
    expect(b).toMatchObject({ ID_FS_LABEL_FATBOOT: 'LABEL1' })
    expect(b.ID_FS_LABEL).toBeUndefined()
    expect(await info(image)).toMatchObject({ type: 'fat32', label: '' })
  })

  it('reads a label whose first byte is 0xE5 (stored as 0x05, like a short name) in code page 437', async () => {
    const image = await mkfs('e5.img', 40, 'XAB')
    await patch(image, await rootLabelEntry(image), 0x05)
    expect((await blkid(image)).ID_FS_LABEL_ENC).toBe('\\xe5AB')
    expect(await info(image)).toMatchObject({ label: 'σAB' })
  })
})
