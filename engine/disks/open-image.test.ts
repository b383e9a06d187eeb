import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BufferSource } from './buffer-source'
import type { Extent } from './block-source'
import { DiskFormatError } from './errors'
import { openImageFile, openImageSource } from './open-image'
import { dirtyVhdxLog, makeAvhdx, makeVhdDifferencing } from './testing/handmade-images'
import { hashSource, makeTempDir, run, seededBytes, sha256 } from './testing/tools'
import { rm } from 'node:fs/promises'
import { crc32c } from './crc32c'

const MiB = 1024 * 1024
const SIZE = 48 * MiB
let dir: string
let raw: Buffer

/** A disk with random, text-like and zero stretches, so allocation and compression paths all get used. */
function makeRaw(): Buffer {
  const b = Buffer.alloc(SIZE)
  seededBytes(5 * MiB, 1).copy(b, 0)
  seededBytes(3 * MiB + 4096, 2).copy(b, 9 * MiB - 512)
  Buffer.from('lifeboat '.repeat(400_000)).copy(b, 20 * MiB)
  seededBytes(64 * 1024, 3).copy(b, SIZE - 64 * 1024)
  return b
}

beforeAll(async () => {
  dir = await makeTempDir('images')
  raw = makeRaw()
  await writeFile(join(dir, 'disk.raw'), raw)
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const conversions: [string, string[], string][] = [
  ['vhd-dynamic', ['-O', 'vpc', '-o', 'subformat=dynamic,force_size=on'], 'vhd-dynamic'],
  ['vhd-fixed', ['-O', 'vpc', '-o', 'subformat=fixed,force_size=on'], 'vhd-fixed'],
  ['vhdx-dynamic', ['-O', 'vhdx', '-o', 'subformat=dynamic'], 'vhdx'],
  ['vhdx-fixed', ['-O', 'vhdx', '-o', 'subformat=fixed'], 'vhdx'],
  ['vhdx-small-blocks', ['-O', 'vhdx', '-o', 'block_size=1M'], 'vhdx'],
  ['qcow2', ['-O', 'qcow2'], 'qcow2'],
  ['qcow2-v2', ['-O', 'qcow2', '-o', 'compat=0.10'], 'qcow2'],
  ['qcow2-zlib', ['-O', 'qcow2', '-c'], 'qcow2'],
  ['qcow2-zstd', ['-O', 'qcow2', '-c', '-o', 'compression_type=zstd'], 'qcow2'],
  ['qcow2-4k-clusters', ['-O', 'qcow2', '-o', 'cluster_size=4096'], 'qcow2'],
  ['qcow2-extended-l2', ['-O', 'qcow2', '-o', 'extended_l2=on,cluster_size=128k'], 'qcow2'],
]

describe('image formats made by qemu-img', () => {
  for (const [name, args, format] of conversions) {
    it(`reads ${name} byte for byte`, async () => {
      const path = join(dir, `${name}.img`)
      await run('qemu-img', ['convert', '-f', 'raw', ...args, join(dir, 'disk.raw'), path])
      const image = await openImageFile(path)
      try {
        expect(image.format).toBe(format)
        expect(image.size).toBe(SIZE)
        expect(await hashSource(image)).toBe(sha256(raw))
        const odd = await image.read(9 * MiB - 700, 5000)
        expect(odd.equals(raw.subarray(9 * MiB - 700, 9 * MiB + 4300))).toBe(true)
      } finally {
        await image.close()
      }
    })
  }

  it('follows a qcow2 backing chain with writes and zeroed ranges made by qemu-io', async () => {
    const base = join(dir, 'base.qcow2')
    const mid = join(dir, 'mid.qcow2')
    const top = join(dir, 'top.qcow2')
    await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', join(dir, 'disk.raw'), base])
    await run('qemu-img', ['create', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', mid])
    await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0xab 1M 3M', '-c', 'write -z 20M 2M', mid])
    await run('qemu-img', ['create', '-f', 'qcow2', '-b', mid, '-F', 'qcow2', top, '64M'])
    await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x5c 2M 512', '-c', 'write -P 0x11 60M 1M', top])
    const truth = join(dir, 'top.raw')
    await run('qemu-img', ['convert', '-O', 'raw', top, truth])
    const image = await openImageFile(top)
    try {
      expect(image.size).toBe(64 * MiB)
      expect(image.parent?.parent?.format).toBe('qcow2')
      expect(await hashSource(image)).toBe(sha256(await readFile(truth)))
      // Extents tile the disk in order, neighbours of one kind joined; the top reads everything through its chain.
      const extents: Extent[] = []
      for await (const e of image.extents?.() ?? []) extents.push(e)
      expect(extents.reduce((at, e) => (e.offset === at ? at + e.length : -1), 0)).toBe(64 * MiB)
      expect(extents.every((e, i) => i === 0 || e.kind !== extents[i - 1]?.kind)).toBe(true)
    } finally {
      await image.close()
    }
    // The middle image's zeroed range (write -z) is a zero extent of its own, whatever its backing holds.
    const middle = await openImageFile(mid)
    try {
      const extents: Extent[] = []
      for await (const e of middle.extents?.() ?? []) extents.push(e)
      expect(extents.some((e) => e.kind === 'zero' && e.offset <= 20 * MiB && e.offset + e.length >= 22 * MiB)).toBe(true)
      expect(extents.filter((e) => e.kind === 'zero').reduce((n, e) => n + e.length, 0)).toBe(2 * MiB)
    } finally {
      await middle.close()
    }
  })

  it('refuses a missing parent and a parent outside the allowed folder with clear errors', async () => {
    const orphan = join(dir, 'orphan.qcow2')
    await run('qemu-img', ['create', '-f', 'qcow2', '-b', '/etc/passwd', '-F', 'raw', '-u', orphan, '1M'])
    await expect(openImageFile(orphan)).rejects.toMatchObject({ code: 'missing-parent', message: expect.stringContaining('outside') })
    const file = await readFile(orphan)
    await expect(openImageSource(new BufferSource(file, 'orphan'))).rejects.toMatchObject({ code: 'missing-parent' })
  })
})

describe('differencing images written to the specifications (no tool here writes them)', () => {
  it('reads a differencing VHD over a qemu-made dynamic VHD', async () => {
    const parentPath = join(dir, 'parent.vhd')
    await run('qemu-img', ['convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=dynamic,force_size=on', join(dir, 'disk.raw'), parentPath])
    const parentFile = await readFile(parentPath)
    const parentId = parentFile.subarray(68, 84)
    const writes = [
      { offset: 4 * MiB - 1024, data: Buffer.alloc(3072, 0x42) },
      { offset: 30 * MiB, data: seededBytes(MiB + 512, 9) },
    ]
    const child = makeVhdDifferencing({ size: SIZE, parentUniqueId: Buffer.from(parentId), parentRelativePath: '.\\parent.vhd', writes })
    await writeFile(join(dir, 'child.vhd'), child)
    const expected = Buffer.from(raw)
    for (const w of writes) w.data.copy(expected, w.offset)
    const image = await openImageFile(join(dir, 'child.vhd'))
    try {
      expect(image.format).toBe('vhd-differencing')
      expect(await hashSource(image)).toBe(sha256(expected))
    } finally {
      await image.close()
    }
    const wrongParent = makeVhdDifferencing({ size: SIZE, parentUniqueId: Buffer.alloc(16, 7), parentRelativePath: 'parent.vhd', writes })
    await writeFile(join(dir, 'child2.vhd'), wrongParent)
    await expect(openImageFile(join(dir, 'child2.vhd'))).rejects.toMatchObject({ code: 'missing-parent' })
  })

  it('reads an AVHDX chain with full, zero and partially present blocks', async () => {
    await run('qemu-img', ['convert', '-f', 'raw', '-O', 'vhdx', join(dir, 'disk.raw'), join(dir, 'base.vhdx')])
    const changed = Buffer.from(raw)
    seededBytes(MiB, 77).copy(changed, 3 * MiB)
    seededBytes(4096, 78).copy(changed, 10 * MiB + 512 * 7)
    changed.fill(0, 20 * MiB, 21 * MiB)
    const partialSectors = Array.from({ length: 8 }, (_, i) => (10 * MiB) / 512 + 7 + i)
    const avhdx = makeAvhdx({ size: SIZE, parentRelativePath: 'base.vhdx', image: changed, fullBlocks: [3], zeroBlocks: [20], partialSectors })
    await writeFile(join(dir, 'snap.avhdx'), avhdx)
    const image = await openImageFile(join(dir, 'snap.avhdx'))
    try {
      expect(image.format).toBe('vhdx-differencing')
      expect(image.parent?.format).toBe('vhdx')
      expect(await hashSource(image)).toBe(sha256(changed))
    } finally {
      await image.close()
    }
    await writeFile(join(dir, 'dirty.vhdx'), dirtyVhdxLog(await readFile(join(dir, 'base.vhdx'))))
    const err = await openImageFile(join(dir, 'dirty.vhdx')).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DiskFormatError)
    expect(err).toMatchObject({ code: 'dirty-log', message: expect.stringContaining('replayed') })
  })

  it('replays a dirty VHDX log written by QEMU, in memory', async () => {
    const path = join(dir, 'logged.vhdx')
    await run('qemu-img', ['create', '-f', 'vhdx', path, '64M'])
    await run('qemu-io', ['-f', 'vhdx', '-c', 'write -P 0x5a 1M 3M', '-c', 'write -P 0x33 40M 64k', path])
    await run('qemu-img', ['convert', '-O', 'raw', path, join(dir, 'logged.raw')])
    const truth = sha256(await readFile(join(dir, 'logged.raw')))
    // QEMU logs every metadata update, applies it, then leaves the log inactive (zero GUID in the header).
    // Re-activating its newest entry and destroying the blocks it rewrote is exactly a crash after the log
    // was written: only replaying the log gives the disk back.
    const file = await readFile(path)
    const logOffset = Number(file.readBigUInt64LE(64 * 1024 + 72))
    let newest = -1
    for (let at = logOffset; at < logOffset + 1024 * 1024; at += 4096) {
      if (file.toString('latin1', at, at + 4) === 'loge' && (newest < 0 || file.readBigUInt64LE(at + 16) > file.readBigUInt64LE(newest + 16))) newest = at
    }
    expect(newest).toBeGreaterThan(0)
    const guid = Buffer.from(file.subarray(newest + 32, newest + 48))
    const damaged = Buffer.from(file)
    const count = file.readUInt32LE(newest + 24)
    for (let i = 0; i < count; i++) {
      const d = newest + 64 + i * 32
      if (file.toString('latin1', d, d + 4) === 'desc') damaged.fill(0, Number(file.readBigUInt64LE(d + 16)), Number(file.readBigUInt64LE(d + 16)) + 4096)
    }
    const withGuid = (buf: Buffer, g: Buffer): Buffer => {
      const out = Buffer.from(buf)
      for (const at of [64 * 1024, 128 * 1024]) {
        g.copy(out, at + 48)
        out.writeUInt32LE(0, at + 4)
        out.writeUInt32LE(crc32c(out.subarray(at, at + 4096)), at + 4)
      }
      return out
    }
    const dirtyPath = join(dir, 'dirty-logged.vhdx')
    await writeFile(dirtyPath, withGuid(damaged, guid))
    const image = await openImageFile(dirtyPath)
    try {
      expect(await hashSource(image)).toBe(truth)
    } finally {
      await image.close()
    }
    const ignoredPath = join(dir, 'ignored-log.vhdx')
    await writeFile(ignoredPath, withGuid(damaged, Buffer.alloc(16)))
    const ignored = await openImageFile(ignoredPath)
    try {
      expect(await hashSource(ignored)).not.toBe(truth)
    } finally {
      await ignored.close()
    }
  })
})
